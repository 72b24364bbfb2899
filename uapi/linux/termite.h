/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * termite: Erlang-style actors with kernel-owned mailboxes, links,
 * monitors and exit signals, on the misc character device /dev/termite.
 *
 * Each open() of the device is a *port*.  A port creates and owns actors.
 * Every actor lives in the *universe* of the IPC namespace its port was
 * opened in; actors of one universe can message, link and monitor each
 * other whatever port or OS process owns them.
 *
 * Every argument struct is fixed-size, 64-bit aligned, free of pointers to
 * pointers and at most 80 bytes long, so that it fits the command area of
 * a 128-byte io_uring SQE.  Reserved fields and flag bits must be zero
 * (-EINVAL otherwise).  Pointers travel as __u64.
 *
 * io_uring (%TERMITE_FEAT_URING): IORING_OP_URING_CMD with cmd_op the
 * TERMITE_IOC_* number and the struct in the SQE's command area (rings with
 * IORING_SETUP_SQE128).  The CQE's res is the ioctl's result; what an
 * _IOWR/_IOR ioctl writes back, and SEND_BATCH's count, come in big_cqe[0]
 * (IORING_SETUP_CQE32).  A receive that finds nothing waits in the kernel
 * and completes later.
 *
 * An operation naming one of the port's own actors fails with -ENOENT if
 * the port owns no such actor, and with -EOWNERDEAD if that actor has been
 * killed and its death notice (%TERMITE_MSG_DEAD) not yet received: only
 * RECV (which returns the notice) and EXIT (which discards it) work then.
 *
 * Documentation/userspace-api/termite.rst describes every operation and
 * error code.
 */
#ifndef _UAPI_LINUX_TERMITE_H
#define _UAPI_LINUX_TERMITE_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define TERMITE_DEVICE		"/dev/termite"

/* Version of this interface: major changes break, minor ones add. */
#define TERMITE_API_MAJOR	1
#define TERMITE_API_MINOR	3

/* Largest registered name, including its terminating NUL. */
#define TERMITE_NAME_MAX	64

/*
 * Message kinds.  Kinds below TERMITE_KIND_KERNEL are the application's;
 * kinds from TERMITE_KIND_KERNEL up are made only by the kernel, and a send
 * that names one fails with -EINVAL.
 */
#define TERMITE_KIND_KERNEL	0x80000000u
#define TERMITE_KIND_EXIT	0x80000001u /* exit signal, or trapped EXIT */
#define TERMITE_KIND_DOWN	0x80000002u /* monitor fired; tag = ref */

/*
 * Exit reason codes.  Codes from TERMITE_EXIT_ERROR up are the
 * application's (an "error" with an opaque payload).
 */
#define TERMITE_EXIT_NORMAL	 0 /* dropped unless the receiver traps exits */
#define TERMITE_EXIT_KILL	 1 /* request only: untrappable, becomes KILLED */
#define TERMITE_EXIT_KILLED	 2 /* the actor was killed */
#define TERMITE_EXIT_NOPROC	 3 /* the peer did not exist or was dead */
#define TERMITE_EXIT_NOCONNECTION 4 /* the peer's node went away (bridges) */
#define TERMITE_EXIT_PORT_CLOSED 5 /* the owning port was closed */
#define TERMITE_EXIT_ERROR	256 /* first application error code */

/**
 * enum termite_exit_mode - what an actor does with an incoming exit signal
 * @TERMITE_MODE_DELIVER: non-normal signals are queued ahead of all messages
 *	and returned by the next receive with %TERMITE_MSG_SIGNAL set (the
 *	library raises them as exceptions, as Termite does); normal exits are
 *	dropped.  The default.
 * @TERMITE_MODE_TRAP: every signal (normal ones too) becomes an ordinary
 *	%TERMITE_KIND_EXIT message in FIFO order.  Erlang's trap_exit.
 * @TERMITE_MODE_DIE: a non-normal signal kills the actor at once, in the
 *	kernel, with the same reason, which propagates along its links;
 *	normal exits are dropped.  Erlang's default.
 *
 * An untrappable %TERMITE_EXIT_KILL kills in every mode.
 */
enum termite_exit_mode {
	TERMITE_MODE_DELIVER	= 0,
	TERMITE_MODE_TRAP	= 1,
	TERMITE_MODE_DIE	= 2,
};

/**
 * struct termite_version - %TERMITE_IOC_VERSION: interface version and limits
 * @major: %TERMITE_API_MAJOR of the running module (out)
 * @minor: %TERMITE_API_MINOR of the running module (out)
 * @features: %TERMITE_FEAT_* bits the module supports (out)
 * @max_msg_size: largest payload a send accepts, in bytes (out)
 * @max_queue_len: messages an actor's mailbox may hold (out)
 * @max_actors: actors one port may own, zombies included (out)
 * @max_links: links one actor may create plus monitors it may hold (out)
 * @port_quota: bytes of queued payload all actors of a port may hold (out)
 * @universe: an id of the caller's universe, equal for ports of one IPC
 *	namespace and different across namespaces (out)
 * @reserved: must be zero
 */
struct termite_version {
	__u32 major;
	__u32 minor;
	__u64 features;
	__u32 max_msg_size;
	__u32 max_queue_len;
	__u32 max_actors;
	__u32 max_links;
	__u64 port_quota;
	__u64 universe;
	__u64 reserved[2];
};

#define TERMITE_FEAT_SELECTIVE	(1ULL << 0) /* match fields and cursor */
#define TERMITE_FEAT_MONITORS	(1ULL << 1)
#define TERMITE_FEAT_NAMES	(1ULL << 2)
#define TERMITE_FEAT_READY	(1ULL << 3)
#define TERMITE_FEAT_BATCH	(1ULL << 4) /* TERMITE_IOC_SEND_BATCH */
#define TERMITE_FEAT_URING	(1ULL << 5) /* io_uring commands (API 1.2) */
#define TERMITE_FEAT_SPAWN_BATCH (1ULL << 6) /* TERMITE_IOC_SPAWN_BATCH (API 1.3) */

/**
 * struct termite_spawn - %TERMITE_IOC_SPAWN: create an actor owned by the port
 * @id: the new actor's id (out): 64-bit, never 0, never reused, and not
 *	guessable from other ids
 * @mode: its &enum termite_exit_mode (in)
 * @flags: reserved, must be zero (in)
 * @reserved: must be zero
 */
struct termite_spawn {
	__u64 id;
	__u32 mode;
	__u32 flags;
	__u64 reserved[2];
};

/**
 * struct termite_send - %TERMITE_IOC_SEND: send one message
 * @from: the sending actor, owned by this port (in)
 * @to: the receiving actor, any actor of the universe (in)
 * @tag: a 64-bit tag or reference the receiver can select on (in)
 * @buf: user address of the payload (in)
 * @len: payload length in bytes, at most the module's max_msg_size (in)
 * @kind: application kind, below %TERMITE_KIND_KERNEL (in)
 * @flags: %TERMITE_SEND_* (in)
 * @reserved0: must be zero
 * @timeout_ns: with %TERMITE_SEND_BLOCK, how long to wait for room:
 *	negative waits forever, 0 fails at once with the error a send
 *	without %TERMITE_SEND_BLOCK gives (-EAGAIN or -ENOBUFS) (in)
 * @reserved: must be zero
 *
 * Asynchronous: returns 0 once the message is queued.  Messages from one
 * sender to one receiver arrive in the order they were sent.  The kernel
 * stamps each message with the sending OS process's tgid and uid.
 */
struct termite_send {
	__u64 from;
	__u64 to;
	__u64 tag;
	__u64 buf;
	__u32 len;
	__u32 kind;
	__u32 flags;
	__u32 reserved0;
	__s64 timeout_ns;
	__u64 reserved[2];
};

/* Wait for room if the receiver's mailbox or port quota is full. */
#define TERMITE_SEND_BLOCK	(1U << 0)
#define TERMITE_SEND_FLAGS	(TERMITE_SEND_BLOCK)

/**
 * struct termite_msghdr - written at the start of a receive buffer
 * @from: the sending actor (for EXIT and DOWN: the actor that died)
 * @tag: the sender's tag (for DOWN: the monitor reference)
 * @seq: the message's position in the mailbox, for the cursor interface:
 *	1 for an actor's first message, then one more for each message
 *	queued to it (0 for signals and the death notice, which are not in
 *	the mailbox)
 * @kind: the message kind (%TERMITE_KIND_EXIT and %TERMITE_KIND_DOWN are
 *	the kernel's)
 * @code: for EXIT and DOWN, the exit reason code; otherwise 0
 * @len: payload length; on -EMSGSIZE, the size the payload needs
 * @flags: %TERMITE_MSG_*
 * @pid: tgid of the sending OS process, in the receiver's pid namespace
 *	(0 when it is not visible there, and for exit signals from links,
 *	DOWN messages and death notices, which the kernel makes)
 * @uid: uid of the sending OS process, in the receiver's user namespace
 *	(0 for messages the kernel makes)
 *
 * The payload follows the header immediately.
 */
struct termite_msghdr {
	__u64 from;
	__u64 tag;
	__u64 seq;
	__u32 kind;
	__u32 code;
	__u32 len;
	__u32 flags;
	__u32 pid;
	__u32 uid;
};

/* An exit signal to be raised (mode DELIVER): it bypassed the mailbox. */
#define TERMITE_MSG_SIGNAL	(1U << 0)
/*
 * The receiving actor itself has died (killed, or by a signal in mode DIE):
 * @code is its reason.  After this message the id is forgotten: every
 * further operation of its owner on it fails with -ENOENT (others get
 * -ESRCH or a NOPROC notice, as for any dead actor).
 */
#define TERMITE_MSG_DEAD	(1U << 1)

/**
 * struct termite_recv - %TERMITE_IOC_RECV: receive one message selectively
 * @actor: the receiving actor, owned by this port (in)
 * @buf: user address of a &struct termite_msghdr followed by room for the
 *	payload (in)
 * @buf_len: size of @buf in bytes, at least sizeof(struct termite_msghdr)
 *	(in)
 * @flags: %TERMITE_RECV_* (in)
 * @timeout_ns: negative waits forever, 0 polls, positive waits that many
 *	nanoseconds (in)
 * @cursor: with %TERMITE_RECV_AFTER, consider only messages whose seq is
 *	greater; with %TERMITE_RECV_SEQ, take exactly the message with this seq
 *	(in)
 * @from: with %TERMITE_MATCH_FROM, the sender to match (in)
 * @tag: with %TERMITE_MATCH_TAG, the tag to match (in)
 * @kind: with %TERMITE_MATCH_KIND, the kind to match (in)
 * @data_off: with %TERMITE_MATCH_DATA, the payload offset of @data (in)
 * @reserved0: must be zero
 * @data: with %TERMITE_MATCH_DATA, bytes compared under @mask (in)
 * @mask: with %TERMITE_MATCH_DATA, which bits of @data must match; a set
 *	mask bit beyond the end of the payload never matches (in)
 *
 * Returns the payload length.  The first message in mailbox order that
 * satisfies every requested match is removed and copied out; pending exit
 * signals (%TERMITE_MSG_SIGNAL, %TERMITE_MSG_DEAD) come first whatever the
 * match.  If the buffer is too small, fails with -EMSGSIZE, writes the
 * header (with @len the size needed) and leaves the message queued.
 */
struct termite_recv {
	__u64 actor;
	__u64 buf;
	__u32 buf_len;
	__u32 flags;
	__s64 timeout_ns;
	__u64 cursor;
	__u64 from;
	__u64 tag;
	__u32 kind;
	__u16 data_off;
	__u16 reserved0;
	__u8  data[8];
	__u8  mask[8];
};

#define TERMITE_MATCH_FROM	(1U << 0)
#define TERMITE_MATCH_TAG	(1U << 1)
#define TERMITE_MATCH_KIND	(1U << 2)
#define TERMITE_MATCH_DATA	(1U << 3)
/*
 * Leave the message queued: its seq in the header is a cursor.  Pending
 * signals and death notices are consumed even so.
 */
#define TERMITE_RECV_PEEK	(1U << 4)
/* Only messages after @cursor (seq > cursor). */
#define TERMITE_RECV_AFTER	(1U << 5)
/*
 * Exactly the message whose seq is @cursor: -ENOMSG at once if it is not
 * queued or fails the other match flags.
 */
#define TERMITE_RECV_SEQ	(1U << 6)
#define TERMITE_RECV_FLAGS	(0x7fU)

/**
 * struct termite_link - %TERMITE_IOC_LINK, %TERMITE_IOC_UNLINK
 * @actor: the caller's actor, owned by this port (in)
 * @peer: any actor of the universe (in)
 * @flags: %TERMITE_LINK_TO, %TERMITE_LINK_FROM or both (in)
 * @reserved0: must be zero
 * @reserved: must be zero
 *
 * Links are directed: with %TERMITE_LINK_TO the peer hears of @actor's
 * death, with %TERMITE_LINK_FROM @actor hears of the peer's.  Both is
 * Erlang's bidirectional link.  Linking to an unknown or dead peer with
 * %TERMITE_LINK_FROM delivers a %TERMITE_EXIT_NOPROC signal to @actor at
 * once.  Unlinking removes the named directions; unlinking what is not
 * linked succeeds.
 */
struct termite_link {
	__u64 actor;
	__u64 peer;
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

#define TERMITE_LINK_TO		(1U << 0)
#define TERMITE_LINK_FROM	(1U << 1)
#define TERMITE_LINK_BOTH	(TERMITE_LINK_TO | TERMITE_LINK_FROM)

/**
 * struct termite_monitor - %TERMITE_IOC_MONITOR, %TERMITE_IOC_DEMONITOR
 * @actor: the watching actor, owned by this port (in)
 * @peer: the watched actor (in, MONITOR)
 * @ref: the monitor's reference (out for MONITOR, in for DEMONITOR)
 * @flags: for DEMONITOR, %TERMITE_DEMONITOR_FLUSH also removes a DOWN
 *	message already queued (in)
 * @reserved0: must be zero
 * @reserved: must be zero
 *
 * When the peer dies, @actor gets one %TERMITE_KIND_DOWN message with
 * tag @ref, from the peer, and the reason.  Monitoring an unknown or dead
 * peer queues DOWN with %TERMITE_EXIT_NOPROC at once.
 */
struct termite_monitor {
	__u64 actor;
	__u64 peer;
	__u64 ref;
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

#define TERMITE_DEMONITOR_FLUSH	(1U << 0)

/**
 * struct termite_exit - %TERMITE_IOC_EXIT, %TERMITE_IOC_SIGNAL
 * @actor: for EXIT, the actor that exits; for SIGNAL, the sender; owned
 *	by this port (in)
 * @to: for SIGNAL, the actor the signal goes to; must be 0 for EXIT (in)
 * @code: the reason's code, %TERMITE_EXIT_* (in)
 * @len: length of the reason's opaque payload (in)
 * @buf: user address of the payload (in)
 * @reserved: must be zero
 *
 * EXIT ends @actor with the reason, which travels along its links and
 * fires its monitors; the id is forgotten.  SIGNAL sends an exit signal
 * from @actor to @to as if along a link (Erlang's exit/2); with
 * %TERMITE_EXIT_KILL it kills @to whatever its mode.
 *
 * Permission: a port may always signal its own actors.  Signalling an
 * actor of another port needs the right kill(2) would give over the
 * credentials that port was opened with (same real or effective uid as
 * its real or saved uid, or CAP_KILL in its user namespace); otherwise
 * -EPERM.  The same rule applies to LINK with %TERMITE_LINK_TO (a link is
 * a deferred exit signal) and to UNREGISTER.
 */
struct termite_exit {
	__u64 actor;
	__u64 to;
	__u32 code;
	__u32 len;
	__u64 buf;
	__u64 reserved[2];
};

/**
 * struct termite_name - %TERMITE_IOC_REGISTER, _UNREGISTER, _WHEREIS
 * @actor: REGISTER: the actor to name, owned by this port (in);
 *	WHEREIS: the named actor (out); UNREGISTER: must be 0
 * @name: NUL-terminated, 1 to %TERMITE_NAME_MAX - 1 bytes, the bytes after
 *	the NUL zero (in)
 * @reserved: must be zero
 *
 * Names belong to the universe.  An actor has at most one name; a name
 * disappears when its actor dies.
 */
struct termite_name {
	__u64 actor;
	char  name[TERMITE_NAME_MAX];
	__u64 reserved;
};

/**
 * struct termite_tag - %TERMITE_IOC_MAKE_TAG: a fresh, never reused reference
 * @tag: the reference (out)
 * @actor: 0, or an actor of this port that will receive the reply: its
 *	mailbox remembers where it stood, so a receive matching @tag
 *	skips every message already queued now (in)
 * @reserved: must be zero
 */
struct termite_tag {
	__u64 tag;
	__u64 actor;
	__u64 reserved[2];
};

/**
 * struct termite_setopt - %TERMITE_IOC_SETOPT: change an actor's option
 * @actor: an actor owned by this port (in)
 * @opt: %TERMITE_OPT_* (in)
 * @reserved0: must be zero
 * @value: the new value (in); the old value (out)
 * @reserved: must be zero
 */
struct termite_setopt {
	__u64 actor;
	__u32 opt;
	__u32 reserved0;
	__u64 value;
	__u64 reserved[2];
};

#define TERMITE_OPT_MODE	1 /* &enum termite_exit_mode */

/**
 * struct termite_ready - %TERMITE_IOC_READY: which actors have news
 * @ids: user address of an array of __u64 (in)
 * @count: room in @ids (in); the number written (out)
 * @flags: reserved, must be zero (in)
 * @reserved: must be zero
 *
 * An actor becomes ready when a message or signal is queued for it (or it
 * dies); READY reports each ready actor once and forgets it, so a
 * scheduler learns of new arrivals only.  poll() on the port reports
 * EPOLLIN while some actor is ready.
 */
struct termite_ready {
	__u64 ids;
	__u32 count;
	__u32 flags;
	__u64 reserved[2];
};

/**
 * struct termite_batch - %TERMITE_IOC_SEND_BATCH: many sends in one call
 * @sends: user address of an array of &struct termite_send (in)
 * @count: entries in @sends, 1 to %TERMITE_BATCH_MAX (in)
 * @flags: reserved, must be zero (in)
 * @reserved: must be zero
 *
 * The entries are sent in order, each exactly as %TERMITE_IOC_SEND would
 * (so messages from one sender to one receiver keep their order).  The
 * call stops at the first entry that fails, or when a signal is pending.
 * Returns the number of messages queued if at least one was, else the
 * error of the first entry (as sendmmsg() does).  Through io_uring, res is
 * the number queued only if all were, else the error of the entry that
 * stopped it, and big_cqe[0] the number queued.
 */
struct termite_batch {
	__u64 sends;
	__u32 count;
	__u32 flags;
	__u64 reserved[2];
};

#define TERMITE_BATCH_MAX	1024

/**
 * struct termite_spawn_batch - %TERMITE_IOC_SPAWN_BATCH: many actors at once
 * @ids: user address of an array of @count __u64, where the new actors'
 *	ids are written (in)
 * @count: how many actors to create, 1 to %TERMITE_SPAWN_BATCH_MAX (in)
 * @mode: their &enum termite_exit_mode (in)
 * @flags: reserved, must be zero (in)
 * @spawned: how many were created: the first @spawned entries of @ids
 *	(out; through io_uring also in big_cqe[0])
 * @reserved: must be zero
 *
 * As @count %TERMITE_IOC_SPAWN calls in one, for runtimes that keep a few
 * actors ready for their next spawns.  Creation stops at the first
 * failure: the call fails with that error (ENOSPC, ENOMEM) only if no
 * actor was created, else it succeeds with @spawned < @count.  If @ids
 * cannot be written, no actor is left and the call fails with EFAULT.
 */
struct termite_spawn_batch {
	__u64 ids;
	__u32 count;
	__u32 mode;
	__u32 flags;
	__u32 spawned;
	__u64 reserved;
};

#define TERMITE_SPAWN_BATCH_MAX	64

#define TERMITE_IOC_MAGIC	0xE7

#define TERMITE_IOC_VERSION	_IOR(TERMITE_IOC_MAGIC, 0x00, struct termite_version)
#define TERMITE_IOC_SPAWN	_IOWR(TERMITE_IOC_MAGIC, 0x01, struct termite_spawn)
#define TERMITE_IOC_SEND	_IOW(TERMITE_IOC_MAGIC, 0x02, struct termite_send)
#define TERMITE_IOC_RECV	_IOW(TERMITE_IOC_MAGIC, 0x03, struct termite_recv)
#define TERMITE_IOC_LINK	_IOW(TERMITE_IOC_MAGIC, 0x04, struct termite_link)
#define TERMITE_IOC_UNLINK	_IOW(TERMITE_IOC_MAGIC, 0x05, struct termite_link)
#define TERMITE_IOC_MONITOR	_IOWR(TERMITE_IOC_MAGIC, 0x06, struct termite_monitor)
#define TERMITE_IOC_DEMONITOR	_IOW(TERMITE_IOC_MAGIC, 0x07, struct termite_monitor)
#define TERMITE_IOC_EXIT	_IOW(TERMITE_IOC_MAGIC, 0x08, struct termite_exit)
#define TERMITE_IOC_SIGNAL	_IOW(TERMITE_IOC_MAGIC, 0x09, struct termite_exit)
#define TERMITE_IOC_REGISTER	_IOW(TERMITE_IOC_MAGIC, 0x0a, struct termite_name)
#define TERMITE_IOC_UNREGISTER	_IOW(TERMITE_IOC_MAGIC, 0x0b, struct termite_name)
#define TERMITE_IOC_WHEREIS	_IOWR(TERMITE_IOC_MAGIC, 0x0c, struct termite_name)
#define TERMITE_IOC_MAKE_TAG	_IOWR(TERMITE_IOC_MAGIC, 0x0d, struct termite_tag)
#define TERMITE_IOC_SETOPT	_IOWR(TERMITE_IOC_MAGIC, 0x0e, struct termite_setopt)
#define TERMITE_IOC_READY	_IOWR(TERMITE_IOC_MAGIC, 0x0f, struct termite_ready)
#define TERMITE_IOC_SEND_BATCH	_IOW(TERMITE_IOC_MAGIC, 0x10, struct termite_batch)
#define TERMITE_IOC_SPAWN_BATCH	_IOWR(TERMITE_IOC_MAGIC, 0x11, struct termite_spawn_batch)

#endif /* _UAPI_LINUX_TERMITE_H */
