// SPDX-License-Identifier: GPL-2.0
/*
 * termite selftests: introspection — the debugfs listing of universes,
 * ports and actors (with their links, monitors, names and queue lengths)
 * and the fdinfo of a port.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include "kselftest_harness.h"
#include "common.h"

#define ACTORS_FILE "/sys/kernel/debug/termite/actors"

/* Read the whole debugfs listing into a malloc'd string. */
static char *read_listing(void)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	int fd = open(ACTORS_FILE, O_RDONLY);
	ssize_t n;

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	close(fd);
	buf[len] = 0;
	return buf;
}

/* The listing's block for actor @id: from its line to the next actor line. */
static char *actor_block(char *all, __u64 id, char *out, size_t outlen)
{
	char key[64], *p, *end;

	snprintf(key, sizeof(key), "  actor %016llx ", (unsigned long long)id);
	p = strstr(all, key);
	if (!p)
		return NULL;
	end = strstr(p + 1, "  actor ");
	if (!end)
		end = p + strlen(p);
	snprintf(out, outlen, "%.*s", (int)(end - p), p);
	return out;
}

TEST(debugfs_lists_actors_links_monitors_names)
{
	char *all, blk[4096], line[128];
	int fd = tm_open(), fd2 = tm_open();
	__u64 a, b, c, ref;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, fd2);
	if (access(ACTORS_FILE, R_OK))
		SKIP(return, "no debugfs at /sys/kernel/debug");
	ASSERT_EQ(0, tm_spawn_mode(fd, TERMITE_MODE_TRAP, &a));
	b = tm_spawn(fd2);
	c = tm_spawn(fd2);
	ASSERT_EQ(0, tm_register(fd, a, "introspect-a"));
	ASSERT_EQ(0, tm_link(fd, a, b, TERMITE_LINK_TO));
	ASSERT_EQ(0, tm_monitor(fd, a, c, &ref));
	ASSERT_EQ(0, tm_send(fd2, b, a, 1, 2, "xy", 2));
	ASSERT_EQ(0, tm_send(fd2, c, a, 1, 2, "xy", 2));

	all = read_listing();
	ASSERT_NE(NULL, all);
	ASSERT_NE(NULL, actor_block(all, a, blk, sizeof(blk)))
		TH_LOG("actor %llx not listed", (unsigned long long)a);
	EXPECT_NE(NULL, strstr(blk, "alive mode=trap queue=2 "));
	EXPECT_NE(NULL, strstr(blk, "name=introspect-a"));
	/* a -> b: b hears of a's death */
	snprintf(line, sizeof(line), "link > %016llx", (unsigned long long)b);
	EXPECT_NE(NULL, strstr(blk, line)) TH_LOG("%s", blk);
	snprintf(line, sizeof(line), "monitors %016llx ref %016llx",
		 (unsigned long long)c, (unsigned long long)ref);
	EXPECT_NE(NULL, strstr(blk, line)) TH_LOG("%s", blk);

	ASSERT_NE(NULL, actor_block(all, b, blk, sizeof(blk)));
	snprintf(line, sizeof(line), "link < %016llx", (unsigned long long)a);
	EXPECT_NE(NULL, strstr(blk, line)) TH_LOG("%s", blk);
	ASSERT_NE(NULL, actor_block(all, c, blk, sizeof(blk)));
	snprintf(line, sizeof(line), "monitored-by %016llx", (unsigned long long)a);
	EXPECT_NE(NULL, strstr(blk, line)) TH_LOG("%s", blk);
	/* the port of a, with our pid */
	snprintf(line, sizeof(line), " port pid %d uid %u actors 1 ", getpid(), getuid());
	EXPECT_NE(NULL, strstr(all, line));
	free(all);

	/* After the port of b and c closes, they are gone from the listing. */
	close(fd2);
	all = read_listing();
	ASSERT_NE(NULL, all);
	EXPECT_EQ(NULL, actor_block(all, b, blk, sizeof(blk)));
	EXPECT_EQ(NULL, actor_block(all, c, blk, sizeof(blk)));
	ASSERT_NE(NULL, actor_block(all, a, blk, sizeof(blk)));
	EXPECT_EQ(NULL, strstr(blk, "link ")) TH_LOG("%s", blk);
	EXPECT_EQ(NULL, strstr(blk, "monitors ")) TH_LOG("%s", blk);
	free(all);
	close(fd);
}

/*
 * A zombie is listed dead, without its name and links, its death notice
 * counted as one signal, until the notice is received.
 */
TEST(debugfs_zombie)
{
	char *all, blk[4096];
	int fd = tm_open();
	unsigned long long v;
	__u64 s, z;
	struct tm_msgbuf m;

	ASSERT_LE(0, fd);
	if (access(ACTORS_FILE, R_OK))
		SKIP(return, "no debugfs at /sys/kernel/debug");
	s = tm_spawn(fd);
	ASSERT_EQ(0, tm_spawn_mode(fd, TERMITE_MODE_DIE, &z));
	ASSERT_EQ(0, tm_register(fd, z, "introspect-z"));
	ASSERT_EQ(0, tm_link(fd, s, z, TERMITE_LINK_BOTH));
	ASSERT_EQ(0, tm_send(fd, s, z, 1, 2, "xy", 2));
	ASSERT_EQ(0, tm_signal(fd, s, z, TERMITE_EXIT_ERROR, "r", 1));

	all = read_listing();
	ASSERT_NE(NULL, all);
	ASSERT_NE(NULL, actor_block(all, z, blk, sizeof(blk)));
	EXPECT_NE(NULL, strstr(blk, " dead mode=die queue=0 signals=1\n"))
		TH_LOG("%s", blk);
	EXPECT_EQ(NULL, strstr(blk, "name=")) TH_LOG("%s", blk);
	EXPECT_EQ(NULL, strstr(blk, "link ")) TH_LOG("%s", blk);
	/* s got the exit signal along the link, which is gone */
	ASSERT_NE(NULL, actor_block(all, s, blk, sizeof(blk)));
	EXPECT_NE(NULL, strstr(blk, " alive mode=deliver queue=0 signals=1\n"))
		TH_LOG("%s", blk);
	EXPECT_EQ(NULL, strstr(blk, "link ")) TH_LOG("%s", blk);
	free(all);
	ASSERT_EQ(0, tm_fdinfo_u64(fd, "termite-actors:", &v));
	EXPECT_EQ(2, v);
	ASSERT_EQ(0, tm_fdinfo_u64(fd, "termite-queued-bytes:", &v));
	EXPECT_EQ(0, v);

	ASSERT_EQ(1, tm_recv_msg(fd, z, &m, 0));
	EXPECT_EQ(TERMITE_MSG_DEAD, m.hdr.flags);
	all = read_listing();
	ASSERT_NE(NULL, all);
	EXPECT_EQ(NULL, actor_block(all, z, blk, sizeof(blk)));
	free(all);
	ASSERT_EQ(0, tm_fdinfo_u64(fd, "termite-actors:", &v));
	EXPECT_EQ(1, v);
	close(fd);
}

TEST(debugfs_root_only)
{
	struct stat st;

	if (stat(ACTORS_FILE, &st))
		SKIP(return, "no debugfs at /sys/kernel/debug");
	EXPECT_EQ(0400, st.st_mode & 0777);
}

TEST(fdinfo_counts)
{
	int fd = tm_open();
	__u64 a, b;
	unsigned long long v;

	ASSERT_LE(0, fd);
	a = tm_spawn(fd);
	b = tm_spawn(fd);
	ASSERT_EQ(0, tm_fdinfo_u64(fd, "termite-actors:", &v));
	EXPECT_EQ(2, v);
	ASSERT_EQ(0, tm_send(fd, a, b, 0, 0, "12345678", 8));
	ASSERT_EQ(0, tm_fdinfo_u64(fd, "termite-ready:", &v));
	EXPECT_EQ(1, v);
	ASSERT_EQ(0, tm_fdinfo_u64(fd, "termite-queued-bytes:", &v));
	EXPECT_LT(8, v);
	ASSERT_EQ(0, tm_exit(fd, a, TERMITE_EXIT_NORMAL, NULL, 0));
	ASSERT_EQ(0, tm_fdinfo_u64(fd, "termite-actors:", &v));
	EXPECT_EQ(1, v);
	close(fd);
}

TEST_HARNESS_MAIN
