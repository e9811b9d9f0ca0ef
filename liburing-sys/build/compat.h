/* SPDX-License-Identifier: MIT */
/*
 * liburing/compat.h for the uring crates, written by liburing-sys's build script in
 * place of the one liburing's ./configure generates. Instead of compile-testing the
 * host's headers from a shell script, it asks the preprocessor (__has_include and the
 * macros each header defines) so the same file serves every libc and kernel-header
 * version, and the checked-in bindings do not depend on the machine they came from.
 */
#ifndef LIBURING_COMPAT_H
#define LIBURING_COMPAT_H

#include <stdint.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/ioctl.h>

/* __kernel_rwf_t came with RWF_* in linux/fs.h (4.14); RWF_APPEND (4.16) marks headers
 * that surely have it. An identical typedef repeated is valid C11. */
#ifndef RWF_APPEND
typedef int __kernel_rwf_t;
#endif

#if defined(__has_include)
#if __has_include(<linux/time_types.h>)
#include <linux/time_types.h>
#else
struct __kernel_timespec {
	int64_t		tv_sec;
	long long	tv_nsec;
};
#endif
#define UAPI_LINUX_IO_URING_H_SKIP_LINUX_TIME_TYPES_H 1

#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#else
struct open_how {
	uint64_t	flags;
	uint64_t	mode;
	uint64_t	resolve;
};
#endif

#if __has_include(<linux/blkdev.h>)
#include <linux/blkdev.h>
#endif
#else /* no __has_include: assume current kernel headers */
#include <linux/time_types.h>
#define UAPI_LINUX_IO_URING_H_SKIP_LINUX_TIME_TYPES_H 1
#include <linux/openat2.h>
#endif

/* struct futex_waitv and FUTEX_WAITV_MAX arrived together in linux/futex.h (5.16). */
#ifndef FUTEX_WAITV_MAX
#define FUTEX_32	2
#define FUTEX_WAITV_MAX	128
struct futex_waitv {
	uint64_t	val;
	uint64_t	uaddr;
	uint32_t	flags;
	uint32_t	__reserved;
};
#endif

#ifndef BLOCK_URING_CMD_DISCARD
#define BLOCK_URING_CMD_DISCARD	_IO(0x12, 0)
#endif

#endif
