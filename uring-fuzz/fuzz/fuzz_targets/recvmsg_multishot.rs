//! `RecvMsgMultishot`'s parse of the `io_uring_recvmsg_out` layout the kernel writes
//! at the start of each pool buffer (a peer controls the lengths it reports): on any
//! bytes and any room for the address and control data, it must either refuse or
//! give ranges inside the buffer, in the kernel's order (address, control data,
//! payload) and within the room each had — and the control walk over its control
//! range must stay inside it too.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// `struct io_uring_recvmsg_out`: four `u32`s.
const OUT_HDR: usize = 16;

fuzz_target!(|input: (u16, u16, &[u8])| {
    let (name_room, control_room, buf) = input;
    let (name_room, control_room) = (usize::from(name_room), usize::from(control_room));
    let Ok((name, control, payload)) =
        uring::__fuzz::recvmsg_multishot_layout(buf, name_room, control_room)
    else {
        return;
    };
    assert!(buf.len() >= OUT_HDR + name_room + control_room, "accepted a short buffer");
    assert_eq!(name.start, OUT_HDR);
    assert!(name.end <= OUT_HDR + name_room, "address past its room");
    assert_eq!(control.start, OUT_HDR + name_room);
    assert!(control.end <= control.start + control_room, "control data past its room");
    assert_eq!(payload.start, OUT_HDR + name_room + control_room);
    assert!(payload.end <= buf.len(), "payload past the buffer");
    // Every range can be sliced, and the control walk stays within its slice.
    let fds = uring::__fuzz::recvmsg_control_fds(&buf[control.clone()]);
    assert!(fds.len() <= control.len() / 4);
    let _ = (&buf[name], &buf[payload]);
});
