use crate::util::Result;
pub fn run_system_libs(_args: &[String]) -> Result {
    Err("not yet".into())
}
