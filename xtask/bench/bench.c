/* SPDX-License-Identifier: MIT */
/*
 * The C side of `cargo xtask bench`: the same workloads as uring/benches/ring.rs,
 * written the way a C user of liburing would (inline helpers from liburing.h, the
 * library's io_uring_submit_and_wait), built at -O2 against the vendored liburing 2.15.
 *
 *   bench nop  <batch> <default|defer|regfd> <ops>
 *   bench nop-floor <batch> <default|defer|regfd> <ops>
 *   bench nop-bare <batch> <default|defer|regfd> <ops>
 *   bench read <qd> <default|defer|regfd> <ops> <file>
 *   bench read-fixed <qd> <default|defer|regfd> <ops> <file>
 *
 * `read-fixed` reads the same file through the ring's registered file table
 * (io_uring_register_files, IOSQE_FIXED_FILE): no file reference per read.
 * `nop-floor` is `nop` with no user-space work per NOP beyond what the kernel
 * needs (see bench_nop_floor): the bound on what any binding's NOP can gain.
 * `nop-bare` is `nop` as a bare loop that writes each entry and reads each
 * result itself, with no library call per NOP (see bench_nop_bare).
 *
 * Prints one line: `ops_per_sec <float>`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "liburing.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void setup(struct io_uring *ring, unsigned entries, const char *mode)
{
	struct io_uring_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	if (!strcmp(mode, "defer"))
		p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	else if (strcmp(mode, "default") && strcmp(mode, "regfd"))
		die("mode must be default, defer or regfd", EINVAL);
	ret = io_uring_queue_init_params(entries, ring, &p);
	if (ret < 0)
		die("io_uring_queue_init_params", ret);
	/* regfd: enter through the registered ring index (IORING_REGISTER_RING_FDS). */
	if (!strcmp(mode, "regfd") && (ret = io_uring_register_ring_fd(ring)) < 0)
		die("io_uring_register_ring_fd", ret);
}

/* Reaps every available completion; returns how many, checking each result. */
static unsigned reap(struct io_uring *ring, int want_res)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(ring, head, cqe) {
		if (want_res >= 0 && cqe->res != want_res)
			die("unexpected completion result", cqe->res);
		n++;
	}
	io_uring_cq_advance(ring, n);
	return n;
}

static double bench_nop(unsigned batch, const char *mode, uint64_t ops)
{
	struct io_uring ring;
	uint64_t done = 0;
	double start;

	setup(&ring, batch < 8 ? 8 : batch, mode);
	start = now();
	while (done < ops) {
		unsigned i, got = 0;
		int ret;

		for (i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			io_uring_prep_nop(sqe);
			sqe->user_data = i;
		}
		ret = io_uring_submit_and_wait(&ring, batch);
		if (ret < 0)
			die("io_uring_submit_and_wait", ret);
		while (got < batch)
			got += reap(&ring, 0);
		done += batch;
	}
	start = now() - start;
	io_uring_queue_exit(&ring);
	return done / start;
}

/*
 * nop-floor: the NOPs of `nop` with no user-space work per NOP but what the
 * kernel needs to see. The entries are written once, before the clock starts:
 * the kernel only reads an entry, and slot i of the queue is entry i (without
 * an index array, or with the identity one liburing sets up), so the same
 * entries serve every batch. A batch is then one store of the queue's tail,
 * one io_uring_enter that submits the batch and waits for all of it, and one
 * store of the completion head (results are counted, not read one by one). No
 * binding can spend less per NOP: this program's rate over C's is the most any
 * library's NOP can gain on C's in the same run.
 *
 * nop-bare (`bare`): the same loop doing per NOP only what a program that
 * builds each entry and looks at each completion must do: the entry written in
 * its slot (64 bytes: the opcode, the user data, the rest zero) and its
 * completion's result read. No library call, no check of room (the queue holds
 * a batch), nothing kept per NOP. Between nop-floor and any binding, which
 * does at least this.
 *
 * Always inlined into its two callers, each with a constant `bare`.
 */
static inline __attribute__((always_inline)) double
nop_loop(unsigned batch, const char *mode, uint64_t ops, const int bare)
{
	struct io_uring ring;
	unsigned i, flags = IORING_ENTER_GETEVENTS, sq_tail, cq_head;
	uint64_t done = 0;
	double start;

	setup(&ring, batch < 8 ? 8 : batch, mode);
	if (!bare) {
		for (i = 0; i < ring.sq.ring_entries; i++) {
			io_uring_prep_nop(&ring.sq.sqes[i]);
			ring.sq.sqes[i].user_data = i;
		}
	}
	if (!strcmp(mode, "regfd"))
		flags |= IORING_ENTER_REGISTERED_RING;
	sq_tail = *ring.sq.ktail;
	cq_head = *ring.cq.khead;
	start = now();
	while (done < ops) {
		int ret;

		for (i = 0; bare && i < batch; i++) {
			struct io_uring_sqe *sqe = &ring.sq.sqes[(sq_tail + i) & ring.sq.ring_mask];

			memset(sqe, 0, sizeof(*sqe));
			sqe->opcode = IORING_OP_NOP;
			sqe->user_data = i;
		}
		sq_tail += batch;
		io_uring_smp_store_release(ring.sq.ktail, sq_tail);
		ret = io_uring_enter(ring.enter_ring_fd, batch, batch, flags, NULL);
		if (ret != (int)batch)
			die("io_uring_enter", ret < 0 ? ret : EAGAIN);
		if (io_uring_smp_load_acquire(ring.cq.ktail) - cq_head < batch)
			die("fewer completions than NOPs", EAGAIN);
		for (i = 0; bare && i < batch; i++) {
			int res = ring.cq.cqes[(cq_head + i) & ring.cq.ring_mask].res;

			if (res != 0)
				die("NOP", -res);
		}
		cq_head += batch;
		io_uring_smp_store_release(ring.cq.khead, cq_head);
		done += batch;
	}
	start = now() - start;
	io_uring_queue_exit(&ring);
	return done / start;
}

static double bench_nop_floor(unsigned batch, const char *mode, uint64_t ops)
{
	return nop_loop(batch, mode, ops, 0);
}

static double bench_nop_bare(unsigned batch, const char *mode, uint64_t ops)
{
	return nop_loop(batch, mode, ops, 1);
}

/* xorshift64: the same sequence in the Rust benchmark. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/*
 * Always inlined into its two callers, each with a constant `fixed`: each
 * loop is compiled for its own case, with no test of `fixed` per read.
 */
static inline __attribute__((always_inline)) double
read_loop(unsigned qd, const char *mode, uint64_t ops, const char *path, const int fixed)
{
	struct io_uring ring;
	uint64_t submitted = 0, done = 0, seed = 0x9e3779b97f4a7c15ULL, blocks;
	struct stat st;
	char *bufs;
	double start;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0)
		die(path, errno);
	blocks = st.st_size / 4096;
	if (posix_memalign((void **) &bufs, 4096, (size_t) qd * 4096))
		die("posix_memalign", ENOMEM);
	setup(&ring, qd, mode);
	if (fixed) {
		int ret = io_uring_register_files(&ring, &fd, 1);
		if (ret < 0)
			die("io_uring_register_files", -ret);
	}
	start = now();
	while (done < ops) {
		while (submitted - done < qd && submitted < ops) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			unsigned slot = submitted % qd;
			uint64_t off = (next_rand(&seed) % blocks) * 4096;

			if (fixed) {
				io_uring_prep_read(sqe, 0, bufs + (size_t) slot * 4096, 4096, off);
				sqe->flags |= IOSQE_FIXED_FILE;
			} else {
				io_uring_prep_read(sqe, fd, bufs + (size_t) slot * 4096, 4096, off);
			}
			sqe->user_data = slot;
			submitted++;
		}
		int ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0)
			die("io_uring_submit_and_wait", ret);
		done += reap(&ring, 4096);
	}
	start = now() - start;
	io_uring_queue_exit(&ring);
	close(fd);
	free(bufs);
	return done / start;
}

static __attribute__((noinline)) double
bench_read(unsigned qd, const char *mode, uint64_t ops, const char *path)
{
	return read_loop(qd, mode, ops, path, 0);
}

static __attribute__((noinline)) double
bench_read_fixed(unsigned qd, const char *mode, uint64_t ops, const char *path)
{
	return read_loop(qd, mode, ops, path, 1);
}

int main(int argc, char **argv)
{
	double rate;

	if (argc == 5 && !strcmp(argv[1], "nop"))
		rate = bench_nop(atoi(argv[2]), argv[3], strtoull(argv[4], NULL, 10));
	else if (argc == 5 && !strcmp(argv[1], "nop-floor"))
		rate = bench_nop_floor(atoi(argv[2]), argv[3], strtoull(argv[4], NULL, 10));
	else if (argc == 5 && !strcmp(argv[1], "nop-bare"))
		rate = bench_nop_bare(atoi(argv[2]), argv[3], strtoull(argv[4], NULL, 10));
	else if (argc == 6 && !strcmp(argv[1], "read"))
		rate = bench_read(atoi(argv[2]), argv[3], strtoull(argv[4], NULL, 10), argv[5]);
	else if (argc == 6 && !strcmp(argv[1], "read-fixed"))
		rate = bench_read_fixed(atoi(argv[2]), argv[3], strtoull(argv[4], NULL, 10), argv[5]);
	else {
		fprintf(stderr, "usage: bench nop|nop-floor|nop-bare <batch> <default|defer|regfd> <ops>\n"
				"       bench read|read-fixed <qd> <default|defer|regfd> <ops> <file>\n");
		return 2;
	}
	printf("ops_per_sec %.1f\n", rate);
	return 0;
}
