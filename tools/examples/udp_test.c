// SPDX-License-Identifier: GPL-2.0
/*
 * udp_test: runs udp_server (in this process) against udp_client (in a
 * child) on 127.0.0.1 and checks, in TAP, that every client that went
 * idle was expired exactly once, after its idle timeout, and no active
 * client was. Exit 0 if all checks pass, 1 if one failed, 4 (KSFT_SKIP)
 * without /dev/timerring.
 *
 * Built with -DUDP_URING and linked with udp_uring_server.c instead of
 * udp_server.c it is udp_uring_test, the same checks of the io_uring
 * server; that one also skips where io_uring or its URING_CMD on the
 * timerring fd is not available.
 *
 *	udp_test [-n CLIENTS] [-i IDLE_MS] [-T ROUNDS] [-S (no slack)] [-v]
 *
 * The send interval and the timeouts grow on a slow machine (see scale())
 * unless -i fixes the idle timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "timerring.h"
#include "udp_common.h"

#ifdef UDP_URING
#define NAME		"udp_uring_test"
#define SERVER		"udp_uring_server (io_uring)"
#else
#define NAME		"udp_test"
#define SERVER		"udp_server (epoll, ioctl)"
#endif

#define KSFT_SKIP	4
#define MAX_RUN_MS	90000	/* skip rather than run longer */

static unsigned int tap_n, tap_fail;

static void tap(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %u - ", ok ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	tap_fail += !ok;
}

/* Cost of one loopback datagram (send and receive) here, in ns. */
static uint64_t calibrate(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	uint64_t t[5] = { 0 }, x;
	int tx, rx, i, j, k;
	char c = 'x';

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (tx >= 0 && rx >= 0 &&
	    !bind(rx, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(rx, (struct sockaddr *)&a, &len) &&
	    !connect(tx, (struct sockaddr *)&a, sizeof(a))) {
		/* The median of 5 runs of 40: a stall of the host skews one. */
		for (j = 0; j < 5; j++) {
			uint64_t t0 = udp_now();

			for (i = 0; i < 40; i++)
				if (send(tx, &c, 1, 0) != 1 ||
				    recv(rx, &c, 1, 0) != 1)
					break;
			t[j] = (udp_now() - t0) / 40;
		}
		for (j = 1; j < 5; j++)
			for (k = j; k > 0 && t[k - 1] > t[k]; k--) {
				x = t[k];
				t[k] = t[k - 1];
				t[k - 1] = x;
			}
	}
	close(tx);
	close(rx);
	return t[2];
}

/*
 * Scale the load and the timing to this machine: a round (every client
 * sends, the server answers some, they ack: about 4 datagrams a client)
 * should take at most 150 ms, and a third of the send interval, which is a
 * fifth of the idle timeout. A TCG VM sharing a busy host can be 100 times
 * slower than the hardware: there, fewer clients and longer timeouts.
 * Returns the expected run time in ms.
 */
static uint64_t scale(struct udp_opts *o, uint64_t dgram_ns, bool fixed)
{
	uint64_t client_us = 4 * dgram_ns / 1000 + 1;
	uint64_t round_ms;

	if (!fixed) {
		if (o->clients * client_us > 150000)
			o->clients = 150000 / client_us > 16 ?
				     150000 / client_us : 16;
		round_ms = o->clients * client_us / 1000;
		if (3 * round_ms > o->interval_ms) {
			o->interval_ms = 3 * round_ms;
			o->idle_ms = 5 * o->interval_ms;
			o->rexmit_ms = o->idle_ms / 5;
		}
	}
	return (uint64_t)o->run_rounds * o->interval_ms + 2 * o->idle_ms;
}

/* A client the machine kept from sending for most of an idle timeout. */
static bool stalled(const struct udp_opts *o, unsigned int i)
{
	return o->max_gap_ns[i] >= o->idle_ms * MSEC * 3 / 4;
}

int main(int argc, char **argv)
{
	static struct udp_report rep;
	unsigned int i, idlers = 0, idle_ok = 0, idle_bad = 0, excused = 0;
	unsigned int active_exp = 0, active_bye = 0, reg = 0, rexmit_idle = 0;
	unsigned int first_bad = UINT32_MAX;
	struct timerring_version v;
	struct udp_opts o;
	unsigned short port;
	int c, sock, pfd[2], status, ret;
	bool fixed_timing = false;
	uint64_t dgram_ns;
	pid_t pid;

	udp_default_opts(&o);
	while ((c = getopt(argc, argv, "n:i:T:Sv")) != -1) {
		switch (c) {
		case 'n':
			o.clients = atoi(optarg);
			break;
		case 'i':
			o.idle_ms = atoi(optarg);
			o.rexmit_ms = o.idle_ms / 5 ? o.idle_ms / 5 : 1;
			fixed_timing = true;
			break;
		case 'T':
			o.run_rounds = atoi(optarg);
			break;
		case 'S':
			o.no_slack = 1;
			break;
		case 'v':
			o.verbose = 1;
			break;
		default:
			fprintf(stderr, "usage: " NAME " [-n CLIENTS] [-i IDLE_MS] [-T ROUNDS] [-S] [-v]\n");
			return 2;
		}
	}
	if (!o.clients || o.clients > UDP_MAX_CLIENTS || !o.idle_ms) {
		fprintf(stderr, NAME ": bad options\n");
		return 2;
	}
	ret = timerring_version(-1, &v);
	if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO) {
		printf("1..0 # SKIP no %s (module not loaded)\n",
		       TIMERRING_DEV_PATH);
		return KSFT_SKIP;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# timerring module %.32s, API %u; server: " SERVER "\n",
	       v.module_version, v.api_version);
	dgram_ns = calibrate();
	if (scale(&o, dgram_ns, fixed_timing) > MAX_RUN_MS) {
		printf("1..0 # SKIP this machine is too slow for a timing test (%llu us per loopback datagram)\n",
		       (unsigned long long)(dgram_ns / 1000));
		return KSFT_SKIP;
	}
	printf("# %llu us per loopback datagram here: %u clients sending every %u ms, 1 in %u going idle after %u rounds, %u rounds; idle timeout %u ms%s, retransmit %u ms\n",
	       (unsigned long long)(dgram_ns / 1000), o.clients, o.interval_ms,
	       o.idle_every, o.warmup_rounds, o.run_rounds, o.idle_ms,
	       o.no_slack ? "" : " (slack)", o.rexmit_ms);
	o.max_gap_ns = mmap(NULL, UDP_MAX_CLIENTS * sizeof(uint64_t),
			    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			    -1, 0);
	sock = udp_server_socket(0, &port);
	if (o.max_gap_ns == MAP_FAILED || sock < 0 || pipe(pfd)) {
		printf("Bail out! setup: %s\n", strerror(errno));
		return 1;
	}
	o.port = port;

	pid = fork();
	if (pid < 0) {
		printf("Bail out! fork: %s\n", strerror(errno));
		return 1;
	}
	if (!pid) {
		close(sock);
		close(pfd[0]);
		/* pfd[1] closes at exit: the server's cue to drain. */
		_exit(udp_client_run(&o));
	}
	close(pfd[1]);
	ret = udp_server_run(&o, sock, pfd[0], &rep);
	if (ret < 0 || rep.setup_error) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (rep.skip_reason) {
			printf("1..0 # SKIP %s (%s)\n", rep.skip_reason,
			       strerror(-rep.setup_error));
			return KSFT_SKIP;
		}
		printf("Bail out! server: %s\n",
		       strerror(ret < 0 ? -ret : -rep.setup_error));
		return 1;
	}
	if (waitpid(pid, &status, 0) < 0)
		status = -1;

	/*
	 * A client that the machine (a loaded TCG VM, say) kept from
	 * sending for most of the idle timeout may rightly have been
	 * expired and come back as a new session: such clients are
	 * excused from the exact checks, and counted.
	 */
	for (i = 0; i < o.clients; i++) {
		bool st = stalled(&o, i);
		bool bad;

		excused += st;
		if (udp_is_idler(&o, i)) {
			idlers++;
			bad = st ? !rep.expired[i] ||
				   rep.expired[i] != rep.registered[i] :
				   rep.expired[i] != 1 || rep.registered[i] != 1;
			idle_ok += !bad;
			idle_bad += bad;
			rexmit_idle += rep.rexmits[i] > 0;
		} else {
			bad = !st && (rep.expired[i] || rep.registered[i] != 1);
			active_exp += bad ? rep.expired[i] : 0;
			active_bye += rep.byes[i] == 1;
		}
		reg += rep.registered[i] >= 1;
		if (bad && first_bad == UINT32_MAX)
			first_bad = i;
	}
	printf("# server: %llu packets, %llu CQEs, %llu ops in %llu batches, %u stale CQEs ignored, %u cancels raced with expiry, longest idle at expiry %llu ms\n",
	       (unsigned long long)rep.packets, (unsigned long long)rep.cqes,
	       (unsigned long long)rep.ops, (unsigned long long)rep.batches,
	       rep.stale, rep.raced_cancels,
	       (unsigned long long)(rep.max_idle_ns / MSEC));
	if (excused)
		printf("# %u clients were kept from sending for >= %u ms by this machine and are excused from the exact checks\n",
		       excused, o.idle_ms * 3 / 4);
	if (first_bad != UINT32_MAX)
		printf("# first wrong client: %u (%s): %u sessions, expired %u times, longest send gap %llu ms\n",
		       first_bad, udp_is_idler(&o, first_bad) ? "idle" : "active",
		       rep.registered[first_bad], rep.expired[first_bad],
		       (unsigned long long)(o.max_gap_ns[first_bad] / MSEC));

	printf("1..11\n");
	tap(WIFEXITED(status) && !WEXITSTATUS(status),
	    "load client ran and exited 0 (status 0x%x)", status);
	tap(reg == o.clients, "all %u clients opened a session (%u did)",
	    o.clients, reg);
	tap(idle_ok == idlers,
	    "every idle client expired exactly once (%u of %u; %u wrong)",
	    idle_ok, idlers, idle_bad);
	tap(!active_exp && active_bye == o.clients - idlers,
	    "no active client expired (%u expirations), all %u said bye (%u did)",
	    active_exp, o.clients - idlers, active_bye);
	tap(!rep.early, "no idle expiration before the %u ms timeout (%u early)",
	    o.idle_ms, rep.early);
	tap(rexmit_idle == idlers,
	    "retransmit timer fired for every idle client (%u of %u)",
	    rexmit_idle, idlers);
	tap(rep.cancels_ok > 0 && !rep.bad_cqes,
	    "acks cancelled %u retransmit timers, no CQE for a cancelled or foreign arm (%u)",
	    rep.cancels_ok, rep.bad_cqes);
	tap(!rep.ops_failed, "no unexpected op failure (%u)", rep.ops_failed);
	tap(!rep.rx_drops, "the server socket dropped no datagram (%u)",
	    rep.rx_drops);
	tap(!rep.tx_errors, "the server sent every datagram (%u failed)",
	    rep.tx_errors);
	tap(!rep.armed_now_end && rep.expired_total_end == rep.cqes,
	    "instance stats at the end: armed_now %llu (want 0), expired_total %llu = CQEs read %llu",
	    (unsigned long long)rep.armed_now_end,
	    (unsigned long long)rep.expired_total_end,
	    (unsigned long long)rep.cqes);
	return tap_fail ? 1 : 0;
}
