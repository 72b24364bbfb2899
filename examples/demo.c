// SPDX-License-Identifier: GPL-2.0
/*
 * termite demo: actors in two OS processes, linked across them, and what
 * the survivor hears when the other process is killed with SIGKILL.
 *
 *   parent process                      child process (forked)
 *   --------------                      ----------------------
 *   port A, actor "parent" (TRAP)       port B, actors pong, worker-1,
 *                                       worker-2 (DELIVER)
 *                                       WHEREIS "parent"; LINK_BOTH each
 *   <- HELLO x3                         one HELLO per actor
 *   MONITOR pong
 *   PING (fresh MAKE_TAG tag) ->        pong answers PONG with the same tag
 *   SIGKILL the child                   (port B is closed by the kernel)
 *   <- EXIT PORT_CLOSED x3, DOWN x1
 *
 * Only raw ioctls on /dev/termite are used.  Every receive has a timeout,
 * so the demo cannot hang; it exits 0 only if every expected message came.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/termite.h>

#define TIMEOUT_NS	(10LL * 1000000000LL)	/* every receive: 10 s */
#define NPINGS		3

/* Application message kinds: anything below TERMITE_KIND_KERNEL. */
enum { KIND_HELLO = 1, KIND_PING, KIND_PONG };

/* The actors of the demo, by role; ids[] is filled in by each process. */
enum { PARENT, PONG, WORKER1, WORKER2, NROLES };
static const char *const role[NROLES] = { "parent", "pong", "worker-1", "worker-2" };
static __u64 ids[NROLES];

/* A receive buffer: the kernel writes the header, then the payload. */
struct msgbuf {
	struct termite_msghdr hdr;
	char data[128];
};

static int port;	/* this process's own port (open file of /dev/termite) */

static void die(const char *what)
{
	printf("%d: %s: %s\n", getpid(), what, strerror(errno));
	exit(1);
}

static const char *who(__u64 id)
{
	for (int i = 0; i < NROLES; i++)
		if (ids[i] == id)
			return role[i];
	return "?";
}

static const char *kind_name(__u32 kind)
{
	switch (kind) {
	case KIND_HELLO:	return "HELLO";
	case KIND_PING:		return "PING";
	case KIND_PONG:		return "PONG";
	case TERMITE_KIND_EXIT:	return "EXIT";
	case TERMITE_KIND_DOWN:	return "DOWN";
	default:		return "?";
	}
}

static const char *code_name(__u32 code)
{
	static const char *const names[] = {
		"NORMAL", "KILL", "KILLED", "NOPROC", "NOCONNECTION", "PORT_CLOSED",
	};

	if (code < sizeof(names) / sizeof(names[0]))
		return names[code];
	return code >= TERMITE_EXIT_ERROR ? "application error" : "?";
}

static __u64 spawn(__u32 mode)
{
	struct termite_spawn sp = { .mode = mode };

	if (ioctl(port, TERMITE_IOC_SPAWN, &sp))
		die("SPAWN");
	return sp.id;
}

static void send_text(__u64 from, __u64 to, __u64 tag, __u32 kind,
		      const char *text)
{
	struct termite_send s = {
		.from = from, .to = to, .tag = tag, .kind = kind,
		.buf = (__u64)(unsigned long)text, .len = strlen(text),
	};

	if (ioctl(port, TERMITE_IOC_SEND, &s))
		die("SEND");
}

/*
 * Receive one message for @actor, waiting at most @timeout_ns; with a
 * nonzero @tag only a message carrying that tag.  Returns the payload
 * length (the payload is NUL-terminated) or -errno.
 */
static int recv_msg(__u64 actor, struct msgbuf *m, __s64 timeout_ns, __u64 tag)
{
	struct termite_recv r = {
		.actor = actor, .buf = (__u64)(unsigned long)m,
		.buf_len = sizeof(*m) - 1, .timeout_ns = timeout_ns,
		.flags = tag ? TERMITE_MATCH_TAG : 0, .tag = tag,
	};
	int ret = ioctl(port, TERMITE_IOC_RECV, &r);

	if (ret < 0)
		return -errno;
	m->data[ret] = '\0';
	return ret;
}

/* Print a received message with the header fields the kernel stamped. */
static void show(const char *me, const struct msgbuf *m)
{
	const struct termite_msghdr *h = &m->hdr;

	printf("  %s <- %s from %016llx (%s) seq %llu pid %u uid %u",
	       me, kind_name(h->kind), (unsigned long long)h->from,
	       who(h->from), (unsigned long long)h->seq, h->pid, h->uid);
	if (h->tag)
		printf(" tag %016llx", (unsigned long long)h->tag);
	if (h->kind >= TERMITE_KIND_KERNEL)
		printf(" code %s", code_name(h->code));
	if (h->flags & TERMITE_MSG_SIGNAL)
		printf(" [signal]");
	if (h->len)
		printf(" \"%s\"", m->data);
	printf("\n");
}

/* ---- the child process --------------------------------------------- */

/* A worker idles in a receive, as a thread of a pool would. */
static void *worker(void *arg)
{
	int i = (int)(long)arg;
	struct msgbuf m;

	if (recv_msg(ids[i], &m, TIMEOUT_NS, 0) >= 0)
		show(role[i], &m);	/* only if the parent died first */
	return NULL;
}

static void __attribute__((noreturn)) child_main(pid_t parent_pid)
{
	struct termite_name nm = { .name = "parent" };
	pthread_t thr[2];
	struct msgbuf m;
	char text[sizeof(m.data) + 16];
	int i, ret;

	/* If the parent dies, do not linger. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent_pid)
		exit(1);

	/*
	 * A port is an open file, and fork() shares it: using the inherited
	 * fd would act on the parent's port.  Open one of our own, so that
	 * our death closes it and kills exactly our actors.
	 */
	close(port);
	port = open(TERMITE_DEVICE, O_RDWR | O_CLOEXEC);
	if (port < 0)
		die("child: open " TERMITE_DEVICE);
	for (i = PONG; i < NROLES; i++)
		ids[i] = spawn(TERMITE_MODE_DELIVER);

	/* Names belong to the universe (the IPC namespace), not the port. */
	if (ioctl(port, TERMITE_IOC_WHEREIS, &nm))
		die("child: WHEREIS parent");
	ids[PARENT] = nm.actor;
	printf("  child: WHEREIS \"parent\" = %016llx\n", (unsigned long long)nm.actor);

	for (i = PONG; i < NROLES; i++) {
		/* Both ways: each side hears of the other's death. */
		struct termite_link lk = {
			.actor = ids[i], .peer = ids[PARENT], .flags = TERMITE_LINK_BOTH,
		};

		if (ioctl(port, TERMITE_IOC_LINK, &lk))
			die("child: LINK");
		printf("  child: spawned %-8s %016llx, linked both ways to parent\n",
		       role[i], (unsigned long long)ids[i]);
		send_text(ids[i], ids[PARENT], 0, KIND_HELLO, role[i]);
	}
	for (i = 0; i < 2; i++)
		if (pthread_create(&thr[i], NULL, worker, (void *)(long)(WORKER1 + i)))
			exit(1);

	/* The pong server: answer each PING with a PONG carrying its tag. */
	for (;;) {
		ret = recv_msg(ids[PONG], &m, TIMEOUT_NS, 0);
		if (ret < 0) {
			printf("  child: pong receive: %s\n", strerror(-ret));
			exit(1);
		}
		show("pong", &m);
		if (m.hdr.kind != KIND_PING)	/* e.g. an exit signal */
			exit(1);
		snprintf(text, sizeof(text), "pong for %s", m.data);
		send_text(ids[PONG], m.hdr.from, m.hdr.tag, KIND_PONG, text);
	}
}

/* ---- the parent process -------------------------------------------- */

static __s64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void)
{
	struct termite_version v = { 0 };
	struct termite_name nm = { .name = "parent" };
	struct termite_monitor mon = { 0 };
	int exits = 0, downs = 0, pongs = 0, alive = 0, ok;
	int seen[NROLES] = { 0 };
	struct msgbuf m;
	__s64 deadline;
	pid_t child;
	int i, j, ret, status;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* two processes share stdout */
	port = open(TERMITE_DEVICE, O_RDWR | O_CLOEXEC);
	if (port < 0)
		die("open " TERMITE_DEVICE " (is termite.ko loaded?)");
	if (ioctl(port, TERMITE_IOC_VERSION, &v))
		die("VERSION");
	printf("termite API %u.%u, universe %016llx\n", v.major, v.minor,
	       (unsigned long long)v.universe);

	/* TRAP: exit signals become ordinary EXIT messages, even NORMAL ones. */
	ids[PARENT] = spawn(TERMITE_MODE_TRAP);
	nm.actor = ids[PARENT];
	if (ioctl(port, TERMITE_IOC_REGISTER, &nm))
		die("REGISTER");
	printf("parent (pid %d): actor %016llx in TRAP mode, registered as \"parent\"\n",
	       getpid(), (unsigned long long)ids[PARENT]);

	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0)
		child_main(getppid());
	printf("parent: forked child pid %d\n", child);

	/* Each child actor says hello; the header tells us its id. */
	for (i = 0; i < NROLES - 1; i++) {
		ret = recv_msg(ids[PARENT], &m, TIMEOUT_NS, 0);
		if (ret < 0 || m.hdr.kind != KIND_HELLO) {
			printf("parent: no HELLO: %s\n", ret < 0 ? strerror(-ret) : "wrong kind");
			goto out;
		}
		for (j = PONG; j < NROLES; j++)
			if (!strcmp(m.data, role[j]))
				ids[j] = m.hdr.from;
		show("parent", &m);
	}

	/* A monitor: one DOWN message when pong dies, whatever the links. */
	mon.actor = ids[PARENT];
	mon.peer = ids[PONG];
	if (ioctl(port, TERMITE_IOC_MONITOR, &mon))
		die("MONITOR");
	printf("parent: monitoring pong, ref %016llx\n", (unsigned long long)mon.ref);

	for (i = 1; i <= NPINGS; i++) {
		/*
		 * A fresh tag bound to our actor: the receive that matches it
		 * skips every message queued before MAKE_TAG.
		 */
		struct termite_tag t = { .actor = ids[PARENT] };
		char text[16];

		if (ioctl(port, TERMITE_IOC_MAKE_TAG, &t))
			die("MAKE_TAG");
		snprintf(text, sizeof(text), "ping %d", i);
		send_text(ids[PARENT], ids[PONG], t.tag, KIND_PING, text);
		ret = recv_msg(ids[PARENT], &m, TIMEOUT_NS, t.tag);
		if (ret < 0) {
			printf("parent: no PONG: %s\n", strerror(-ret));
			goto out;
		}
		show("parent", &m);
		pongs += m.hdr.kind == KIND_PONG;
	}

	printf("parent: kill(%d, SIGKILL); the kernel closes its port, and in TRAP\n"
	       "        mode the exit signals arrive as ordinary EXIT messages\n", child);
	kill(child, SIGKILL);

	/* Expect EXIT/PORT_CLOSED from each child actor, and pong's DOWN. */
	deadline = now_ns() + TIMEOUT_NS;
	while (exits < NROLES - 1 || downs < 1) {
		__s64 left = deadline - now_ns();

		ret = recv_msg(ids[PARENT], &m, left > 0 ? left : 0, 0);
		if (ret < 0) {
			printf("parent: still waiting for %d EXIT and %d DOWN: %s\n",
			       NROLES - 1 - exits, 1 - downs, strerror(-ret));
			break;
		}
		show("parent", &m);
		for (j = PONG; j < NROLES; j++)
			if (m.hdr.from == ids[j])
				break;
		if (j == NROLES || m.hdr.code != TERMITE_EXIT_PORT_CLOSED)
			continue;	/* not one of the expected messages */
		if (m.hdr.kind == TERMITE_KIND_EXIT && !seen[j]) {
			seen[j] = 1;
			exits++;
		} else if (m.hdr.kind == TERMITE_KIND_DOWN && j == PONG &&
			   m.hdr.tag == mon.ref) {
			downs++;
		}
	}

	/* TRAP mode: the signals were messages; our actor lives on, idle. */
	ret = recv_msg(ids[PARENT], &m, 0, 0);
	printf("parent: our actor after the crash: receive = %s\n",
	       ret < 0 ? strerror(-ret) : "a message");
	alive = ret == -EAGAIN;
out:
	kill(child, SIGKILL);		/* harmless if it is already dead */
	if (waitpid(child, &status, 0) == child && WIFSIGNALED(status))
		printf("parent: child %d ended by signal %d\n", child, WTERMSIG(status));
	ok = pongs == NPINGS && exits == NROLES - 1 && downs == 1 && alive;
	printf("demo: %s: %d/%d pongs, %d/%d EXIT (PORT_CLOSED), %d/1 DOWN, "
	       "parent actor %s\n", ok ? "OK" : "FAILED", pongs, NPINGS,
	       exits, NROLES - 1, downs, alive ? "alive" : "NOT alive");
	close(port);		/* kills our actor too: PORT_CLOSED */
	return ok ? 0 : 1;
}
