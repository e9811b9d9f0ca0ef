/* SPDX-License-Identifier: MIT */
/*
 * The C side of `cargo xtask bench`'s echo case, and the load generator both sides
 * share.
 *
 *   echo server [--bufs N] [--buf-size BYTES] [--defer-taskrun]
 *   echo client <ip:port> <conns> <msg-bytes> <round-trips-per-conn>
 *
 * The server does what uring/examples/echo_server.rs does, the way a C user of
 * liburing would: one multishot accept; per connection one multishot receive into
 * a provided-buffer ring (io_uring_setup_buf_ring); at most one send in flight per
 * connection, the first chunk sent straight from its pool buffer and later ones
 * appended to a backlog sent next (receiving paused while it holds 1 MiB);
 * short sends finished; ENOBUFS re-armed once
 * buffers are back; a stream ended with data re-armed at once; end of file closes
 * the connection (IORING_OP_CLOSE) once everything is sent. It prints
 * `listening on 127.0.0.1:PORT` first and exits when its stdin reaches end of file
 * (a read on the ring, as the Rust server does). With --defer-taskrun the ring is
 * set up SINGLE_ISSUER | DEFER_TASKRUN, as the Rust server's option of that name.
 *
 * The client opens <conns> connections (TCP_NODELAY, non-blocking, one epoll
 * thread) and on each does <round-trips-per-conn> ping-pongs of <msg-bytes> bytes,
 * checking every echoed byte. It prints `ops_per_sec <round trips per second>`,
 * timed from the first message to the last echo.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "liburing.h"

static void die(const char *what, int err)
{
	fprintf(stderr, "echo: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- server ---- */

#define SQ_ENTRIES 256
#define CQ_ENTRIES 4096
#define GROUP 0
/* A connection stops receiving while its backlog holds this much. */
#define BACKLOG_LIMIT (1u << 20)

enum kind { K_ACCEPT = 1, K_RECV, K_SEND, K_STDIN, K_TIMER, K_IGNORE };

static uint64_t ud(enum kind k, unsigned idx)
{
	return ((uint64_t) idx << 8) | k;
}

/* A growable byte buffer. */
struct bytes {
	char *p;
	size_t len, cap;
};

static void bytes_append(struct bytes *b, const char *src, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			die("realloc", ENOMEM);
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

struct conn {
	int fd;			/* -1: free slot */
	int recv_armed, recv_cancelled, recv_err;
	unsigned items;		/* data completions of the current receive stream */
	int sending;
	int out_bid;		/* the pool buffer being sent, or -1: `out` */
	const char *out_ptr;	/* what is left to send */
	unsigned out_len;
	struct bytes backlog;	/* received while a send was in flight */
	struct bytes out;	/* the backlog being sent */
	int eof, broken, starved, paused;
};

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *pool_mem;
static unsigned pool_size, pool_count, pool_mask, available;
static int listen_fd, accept_armed, accept_timer, accepted_once, stopping;
static char stdin_buf[256];
static struct __kernel_timespec accept_retry = { .tv_sec = 0, .tv_nsec = 100000000 };

static struct conn *conns;
static unsigned nconns, conns_cap;
static unsigned *free_list, nfree;
static unsigned *starved, nstarved;
static uint64_t stat_closed, stat_failed, stat_bytes, stat_enobufs, stat_pauses;

static struct io_uring_sqe *get_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (!sqe) {
		int ret = io_uring_submit(&ring);
		if (ret < 0)
			die("io_uring_submit", ret);
		sqe = io_uring_get_sqe(&ring);
		if (!sqe)
			die("the submission queue stayed full", EBUSY);
	}
	return sqe;
}

static void recycle(unsigned bid)
{
	io_uring_buf_ring_add(br, pool_mem + (size_t) bid * pool_size, pool_size, bid,
			      pool_mask, 0);
	io_uring_buf_ring_advance(br, 1);
	available++;
}

static void arm_accept(void)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud(K_ACCEPT, 0));
	accept_armed = 1;
}

static void arm_stdin(void)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_read(sqe, 0, stdin_buf, sizeof(stdin_buf), (uint64_t) -1);
	io_uring_sqe_set_data64(sqe, ud(K_STDIN, 0));
}

static void arm_recv(unsigned idx)
{
	struct io_uring_sqe *sqe = get_sqe();
	struct conn *c = &conns[idx];

	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = GROUP;
	io_uring_sqe_set_data64(sqe, ud(K_RECV, idx));
	c->recv_armed = 1;
	c->recv_cancelled = 0;
	c->items = 0;
	c->recv_err = 0;
}

static void send_out(unsigned idx)
{
	struct io_uring_sqe *sqe = get_sqe();
	struct conn *c = &conns[idx];

	io_uring_prep_send(sqe, c->fd, c->out_ptr, c->out_len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud(K_SEND, idx));
	c->sending = 1;
}

static void maybe_close(unsigned idx)
{
	struct conn *c = &conns[idx];
	struct io_uring_sqe *sqe;

	if (c->fd < 0)
		return;
	if (!(c->broken || (c->eof && c->backlog.len == 0)) || c->recv_armed || c->sending)
		return;
	sqe = get_sqe();
	io_uring_prep_close(sqe, c->fd);
	io_uring_sqe_set_data64(sqe, ud(K_IGNORE, 0));
	c->fd = -1;
	free_list[nfree++] = idx;
	stat_closed++;
	stat_failed += c->broken;
}

static void cancel_recv(unsigned idx)
{
	struct conn *c = &conns[idx];

	if (c->recv_armed && !c->recv_cancelled) {
		struct io_uring_sqe *sqe = get_sqe();

		io_uring_prep_cancel64(sqe, ud(K_RECV, idx), 0);
		io_uring_sqe_set_data64(sqe, ud(K_IGNORE, 0));
		c->recv_cancelled = 1;
	}
}

static void break_conn(unsigned idx)
{
	struct conn *c = &conns[idx];

	c->broken = 1;
	c->backlog.len = 0;
	cancel_recv(idx);
	maybe_close(idx);
}

/* Re-arms a paused receive once the backlog has gone out. */
static void resume(unsigned idx)
{
	struct conn *c = &conns[idx];

	if (c->fd < 0 || !c->paused || c->recv_armed || c->backlog.len >= BACKLOG_LIMIT / 2)
		return;
	c->paused = 0;
	if (!c->broken && !c->eof && !stopping)
		arm_recv(idx);
}

static void new_conn(int fd)
{
	unsigned idx;
	struct conn *c;

	accepted_once = 1;
	if (nfree) {
		idx = free_list[--nfree];
	} else {
		if (nconns == conns_cap) {
			conns_cap = conns_cap ? conns_cap * 2 : 64;
			conns = realloc(conns, conns_cap * sizeof(*conns));
			free_list = realloc(free_list, conns_cap * sizeof(*free_list));
			starved = realloc(starved, conns_cap * sizeof(*starved));
			if (!conns || !free_list || !starved)
				die("realloc", ENOMEM);
		}
		idx = nconns++;
		memset(&conns[idx], 0, sizeof(conns[idx]));
	}
	c = &conns[idx];
	c->fd = fd;
	c->sending = c->eof = c->broken = c->starved = c->paused = 0;
	c->backlog.len = c->out.len = 0;
	c->out_bid = -1;
	arm_recv(idx);
}

static void on_accept(struct io_uring_cqe *cqe)
{
	if (cqe->res >= 0) {
		new_conn(cqe->res);
	} else {
		switch (-cqe->res) {
		case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM: {
			struct io_uring_sqe *sqe = get_sqe();

			io_uring_prep_timeout(sqe, &accept_retry, 0, 0);
			io_uring_sqe_set_data64(sqe, ud(K_TIMER, 0));
			accept_timer = 1;
			break;
		}
		case ECONNABORTED: case EINTR: case EAGAIN: case EPERM:
			break;
		case EINVAL:
			if (!accepted_once)
				die("multishot accept refused (Linux 5.19 is needed)", EINVAL);
			/* fall through */
		default:
			die("accept", cqe->res);
		}
	}
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		accept_armed = 0;
		if (!accept_timer && !stopping)
			arm_accept();
	}
}

static void on_recv(unsigned idx, struct io_uring_cqe *cqe)
{
	struct conn *c = &conns[idx];
	int bid = -1, err;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		available--;
	}
	if (cqe->res > 0) {
		c->items++;
		if (c->broken) {
			recycle(bid);
		} else if (c->sending) {
			/* In order: after the send in flight. */
			bytes_append(&c->backlog, pool_mem + (size_t) bid * pool_size, cqe->res);
			recycle(bid);
			if (c->backlog.len >= BACKLOG_LIMIT && !c->paused) {
				c->paused = 1;
				stat_pauses++;
				cancel_recv(idx);
			}
		} else {
			c->out_bid = bid;
			c->out_ptr = pool_mem + (size_t) bid * pool_size;
			c->out_len = cqe->res;
			send_out(idx);
		}
	} else {
		if (bid >= 0)
			recycle(bid);
		if (cqe->res < 0) {
			if (cqe->res == -EINVAL && c->items == 0 && !c->eof)
				die("multishot receive refused (Linux 6.0 is needed)", EINVAL);
			c->recv_err = -cqe->res;
		}
	}
	if (cqe->flags & IORING_CQE_F_MORE)
		return;

	c->recv_armed = 0;
	err = c->recv_err;
	c->recv_err = 0;
	if (err == ENOBUFS) {
		stat_enobufs++;
		if (!c->broken && !stopping && !c->paused) {
			c->starved = 1;
			starved[nstarved++] = idx;
		}
	} else if (err == ECANCELED && (c->broken || stopping || c->paused)) {
	} else if (err) {
		if (err != ECONNRESET)
			fprintf(stderr, "echo: receive: %s\n", strerror(err));
		c->broken = 1;
	} else if (cqe->res == 0) {
		c->eof = 1;
	} else if (!c->broken && !c->paused) {
		/* Ended with data (say, a full completion queue): go on. */
		arm_recv(idx);
		return;
	}
	resume(idx);
	maybe_close(idx);
}

static void on_sent(unsigned idx, int res)
{
	struct conn *c = &conns[idx];

	c->sending = 0;
	if (res <= 0) {
		if (res != -EPIPE && res != -ECONNRESET)
			fprintf(stderr, "echo: send: %s\n",
				res ? strerror(-res) : "wrote nothing");
		if (c->out_bid >= 0)
			recycle(c->out_bid);
		c->out_bid = -1;
		break_conn(idx);
		return;
	}
	stat_bytes += res;
	if ((unsigned) res < c->out_len) {
		c->out_ptr += res;
		c->out_len -= res;
		send_out(idx);
		return;
	}
	if (c->out_bid >= 0)
		recycle(c->out_bid);
	c->out_bid = -1;
	if (c->broken || c->backlog.len == 0) {
		resume(idx);
		maybe_close(idx);
		return;
	}
	/* The backlog goes out next; the emptied buffer becomes the backlog. */
	struct bytes t = c->out;
	c->out = c->backlog;
	c->backlog = t;
	c->backlog.len = 0;
	c->out_ptr = c->out.p;
	c->out_len = c->out.len;
	send_out(idx);
	resume(idx);
}

static void rearm_starved(void)
{
	while (available > 0 && nstarved) {
		unsigned idx = starved[--nstarved];
		struct conn *c = &conns[idx];

		if (c->fd < 0 || !c->starved || c->paused)
			continue;
		c->starved = 0;
		if (c->broken)
			maybe_close(idx);
		else
			arm_recv(idx);
	}
}

static void on_cqe(struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	unsigned idx = data >> 8;

	switch ((enum kind) (data & 0xff)) {
	case K_ACCEPT:
		on_accept(cqe);
		break;
	case K_RECV:
		on_recv(idx, cqe);
		break;
	case K_SEND:
		on_sent(idx, cqe->res);
		break;
	case K_STDIN:
		if (cqe->res > 0 || cqe->res == -EINTR)
			arm_stdin();
		else
			stopping = 1;
		break;
	case K_TIMER:
		accept_timer = 0;
		if (!accept_armed && !stopping)
			arm_accept();
		break;
	case K_IGNORE:
		break;
	}
}

static int server(int argc, char **argv)
{
	struct io_uring_params p;
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	unsigned entries, i;
	int ret, one = 1, defer = 0;

	pool_count = 256;
	pool_size = 4096;
	for (i = 2; i < (unsigned) argc; i++) {
		if (!strcmp(argv[i], "--bufs") && i + 1 < (unsigned) argc)
			pool_count = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--buf-size") && i + 1 < (unsigned) argc)
			pool_size = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--defer-taskrun"))
			defer = 1;
		else
			die("usage: echo server [--bufs N] [--buf-size BYTES] [--defer-taskrun]",
			    EINVAL);
	}
	if (pool_count < 1 || pool_count > 32768 || pool_size < 1)
		die("--bufs 1..32768, --buf-size > 0", EINVAL);

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE;
	if (defer)
		p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = CQ_ENTRIES;
	ret = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
	if (ret < 0)
		die("io_uring_queue_init_params", ret);

	entries = 1;
	while (entries < pool_count)
		entries *= 2;
	br = io_uring_setup_buf_ring(&ring, entries, GROUP, 0, &ret);
	if (!br)
		die("io_uring_setup_buf_ring (Linux 5.19 is needed)", ret);
	pool_mask = io_uring_buf_ring_mask(entries);
	pool_mem = calloc(pool_count, pool_size);
	if (!pool_mem)
		die("calloc", ENOMEM);
	for (i = 0; i < pool_count; i++)
		io_uring_buf_ring_add(br, pool_mem + (size_t) i * pool_size, pool_size, i,
				      pool_mask, i);
	io_uring_buf_ring_advance(br, pool_count);
	available = pool_count;

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		die("socket", errno);
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(listen_fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 ||
	    listen(listen_fd, 128) < 0 ||
	    getsockname(listen_fd, (struct sockaddr *) &addr, &alen) < 0)
		die("listen", errno);

	arm_accept();
	arm_stdin();
	ret = io_uring_submit(&ring);
	if (ret < 0)
		die("io_uring_submit", ret);
	printf("listening on 127.0.0.1:%u\n", ntohs(addr.sin_port));
	fflush(stdout);

	while (!stopping) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EBUSY)
			die("io_uring_submit_and_wait", ret);
		io_uring_for_each_cqe(&ring, head, cqe) {
			on_cqe(cqe);
			n++;
		}
		io_uring_cq_advance(&ring, n);
		rearm_starved();
	}
	io_uring_queue_exit(&ring);
	fprintf(stderr, "echo: %llu connections served (%llu ended by an error), %llu bytes "
		"echoed, %llu receives re-armed after ENOBUFS, %llu paused for a full backlog\n",
		(unsigned long long) stat_closed, (unsigned long long) stat_failed,
		(unsigned long long) stat_bytes, (unsigned long long) stat_enobufs,
		(unsigned long long) stat_pauses);
	return 0;
}

/* ---- client ---- */

struct peer {
	int fd;
	unsigned trips;		/* round trips finished */
	unsigned got;		/* bytes of the current echo received */
};

static void fill(char *msg, unsigned size, unsigned conn, unsigned trip)
{
	memset(msg, (int) ((conn * 131 + trip * 7) & 0xff), size);
}

static void send_msg(struct peer *p, char *msg, unsigned size, unsigned conn)
{
	ssize_t n;

	fill(msg, size, conn, p->trips);
	n = write(p->fd, msg, size);
	if (n != (ssize_t) size)
		die("write (a short write of a small message)", n < 0 ? errno : EAGAIN);
	p->got = 0;
}

static int client(int argc, char **argv)
{
	struct sockaddr_in addr;
	struct peer *peers;
	struct epoll_event ev, evs[64];
	unsigned nconn, size, trips, done = 0, i;
	char *msg, *want, *in, *colon;
	double start, elapsed;
	int ep, one = 1;

	if (argc != 6)
		die("usage: echo client <ip:port> <conns> <msg-bytes> <round-trips-per-conn>",
		    EINVAL);
	colon = strrchr(argv[2], ':');
	if (!colon)
		die("the address is ip:port", EINVAL);
	*colon = 0;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, argv[2], &addr.sin_addr) != 1)
		die("the address is ip:port", EINVAL);
	nconn = atoi(argv[3]);
	size = atoi(argv[4]);
	trips = atoi(argv[5]);
	if (!nconn || !size || !trips)
		die("conns, msg-bytes and round trips must be positive", EINVAL);

	peers = calloc(nconn, sizeof(*peers));
	msg = malloc(size);
	want = malloc(size);
	in = malloc(size);
	if (!peers || !msg || !want || !in)
		die("malloc", ENOMEM);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1", errno);
	for (i = 0; i < nconn; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0)
			die("connect", errno);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		peers[i].fd = fd;
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl", errno);
	}

	start = now();
	for (i = 0; i < nconn; i++)
		send_msg(&peers[i], msg, size, i);
	while (done < nconn) {
		int n = epoll_wait(ep, evs, 64, 10000), k;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("epoll_wait (no echo for 10 s?)", n < 0 ? errno : ETIMEDOUT);
		for (k = 0; k < n; k++) {
			unsigned ci = evs[k].data.u32;
			struct peer *p = &peers[ci];
			ssize_t r = read(p->fd, in + p->got, size - p->got);

			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0)
				die("read (the server closed the connection?)", r < 0 ? errno : EPIPE);
			fill(want, size, ci, p->trips);
			if (memcmp(in + p->got, want + p->got, r))
				die("the echo differs from the message", EPROTO);
			p->got += r;
			if (p->got < size)
				continue;
			if (++p->trips < trips) {
				send_msg(p, msg, size, ci);
			} else {
				epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL);
				done++;
			}
		}
	}
	elapsed = now() - start;

	/* Hang up; the server closes after end of file. */
	for (i = 0; i < nconn; i++) {
		char c;
		int fl = fcntl(peers[i].fd, F_GETFL);

		fcntl(peers[i].fd, F_SETFL, fl & ~O_NONBLOCK);
		shutdown(peers[i].fd, SHUT_WR);
		if (read(peers[i].fd, &c, 1) != 0)
			die("the server sent more than the echo", EPROTO);
		close(peers[i].fd);
	}
	printf("ops_per_sec %.1f\n", (double) nconn * trips / elapsed);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "server"))
		return server(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "client"))
		return client(argc, argv);
	fprintf(stderr, "usage: echo server [--bufs N] [--buf-size BYTES]\n"
			"       echo client <ip:port> <conns> <msg-bytes> <round-trips-per-conn>\n");
	return 2;
}
