/* nl — see LICENSE. Byte I/O: memory streams, peek on pipes, exact reads, atomic outputs. */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "t.h"

static char dir[] = "/tmp/nl-test-io.XXXXXX";

static int
count_entries(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", dir);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

T_TEST(memory_streams)
{
	struct nl_io w, r;
	struct nl_err err = { 0, "" };
	unsigned char buf[8];
	size_t n, got;
	const unsigned char *p;

	nl_io_open_mem_write(&w);
	T_CHECK(nl_io_write(&w, "hello ", 6, &err) == 0 && nl_io_write(&w, "world", 5, &err) == 0);
	unsigned char *data = nl_io_mem_take(&w, &n);
	T_CHECK(n == 11 && memcmp(data, "hello world", 11) == 0);
	T_CHECK(nl_io_close(&w, &err) == 0);
	nl_io_open_mem_read(&r, data, n);
	T_CHECK(nl_io_peek(&r, &p, 5, &got, &err) == 0 && got == 5 && memcmp(p, "hello", 5) == 0);
	T_CHECK(nl_io_read_exact(&r, buf, 6, &err) == 0 && memcmp(buf, "hello ", 6) == 0);
	T_CHECK(nl_io_peek(&r, &p, 100, &got, &err) == 0 && got == 5);
	T_CHECK(nl_io_read_exact(&r, buf, 6, &err) < 0 && strcmp(err.msg, "unexpected end of file") == 0);
	nl_io_abort(&r);
	free(data);
}

T_TEST(peek_on_a_pipe)
{
	int fds[2];
	struct nl_io r;
	struct nl_err err = { 0, "" };
	const unsigned char *p;
	size_t got;
	char buf[300000];

	T_CHECK(pipe(fds) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* trickle bytes so peek has to gather several reads */
		close(fds[0]);
		for (int i = 0; i < 100000; i += 1000) {
			char chunk[1000];
			for (int k = 0; k < 1000; k++)
				chunk[k] = (char)((i + k) % 251);
			if (write(fds[1], chunk, sizeof chunk) != (ssize_t)sizeof chunk)
				_exit(1);
		}
		_exit(0);
	}
	close(fds[1]);
	/* read the pipe through /dev/fd so nl_io_open_read sees a path */
	char path[64];
	snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
	T_CHECK(nl_io_open_read(&r, path, 0, &err) == 0);
	T_CHECK(nl_io_peek(&r, &p, 4096, &got, &err) == 0 && got == 4096);
	int ok = 1;
	for (int k = 0; k < 4096; k++)
		ok &= p[k] == k % 251;
	T_CHECK(ok);
	ptrdiff_t n = nl_io_read(&r, buf, sizeof buf, &err);
	T_CHECK(n == 100000);
	for (int k = 0; k < 100000; k++)
		ok &= (unsigned char)buf[k] == k % 251;
	T_CHECK(ok);
	T_CHECK(nl_io_read(&r, buf, 10, &err) == 0);
	nl_io_abort(&r);
	close(fds[0]);
	waitpid(pid, NULL, 0);
}

T_TEST(atomic_output)
{
	struct nl_io w;
	struct nl_err err = { 0, "" };
	char path[128];

	snprintf(path, sizeof path, "%s/out.bin", dir);
	T_CHECK(nl_io_open_write(&w, path, 0, &err) == 0);
	T_CHECK(nl_io_write(&w, "new", 3, &err) == 0);
	T_CHECK(access(path, F_OK) != 0);    /* nothing at the final name until close */
	T_CHECK(count_entries() == 1);       /* the temporary */
	T_CHECK(nl_io_close(&w, &err) == 0);
	FILE *f = fopen(path, "r");
	char buf[8] = { 0 };
	T_CHECK(f != NULL && fread(buf, 1, 8, f) == 3 && memcmp(buf, "new", 3) == 0);
	if (f)
		fclose(f);
	/* abort leaves the old file alone and removes the temporary */
	T_CHECK(nl_io_open_write(&w, path, 0, &err) == 0);
	T_CHECK(nl_io_write(&w, "other", 5, &err) == 0);
	nl_io_abort(&w);
	T_CHECK(count_entries() == 1);
	f = fopen(path, "r");
	T_CHECK(f != NULL && fread(buf, 1, 8, f) == 3);
	if (f)
		fclose(f);
	/* mode follows the umask like a plain creat() */
	struct stat st;
	mode_t mask = umask(022);
	T_CHECK(nl_io_open_write(&w, path, 0, &err) == 0 && nl_io_close(&w, &err) == 0);
	T_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
	umask(mask);
	unlink(path);
	/* a directory that does not exist */
	snprintf(path, sizeof path, "%s/no/such/out.bin", dir);
	T_CHECK(nl_io_open_write(&w, path, 0, &err) < 0 && strstr(err.msg, "No such file"));
}

T_TEST(signal_removes_temporary)
{
	char path[128];

	snprintf(path, sizeof path, "%s/sig.bin", dir);
	pid_t pid = fork();
	if (pid == 0) {
		struct nl_io w;
		struct nl_err err = { 0, "" };
		nl_io_install_signals();
		if (nl_io_open_write(&w, path, 0, &err) < 0)
			_exit(2);
		raise(SIGTERM);
		_exit(3);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	T_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	T_CHECK(count_entries() == 0);
}

T_TEST(links_and_devices)
{
	struct nl_io w;
	struct nl_err err = { 0, "" };
	char target[128], link[128], fifo[128];
	struct stat st;

	/* writing through a symlink replaces the file it names; the link stays a link */
	snprintf(target, sizeof target, "%s/target.bin", dir);
	snprintf(link, sizeof link, "%s/link.bin", dir);
	FILE *f = fopen(target, "w");
	if (f)
		fclose(f);
	T_CHECK(symlink("target.bin", link) == 0);
	T_CHECK(nl_io_open_write(&w, link, 0, &err) == 0);
	T_CHECK(nl_io_write(&w, "via", 3, &err) == 0 && nl_io_close(&w, &err) == 0);
	T_CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
	T_CHECK(stat(target, &st) == 0 && st.st_size == 3);
	unlink(link);
	unlink(target);
	/* a fifo is written in place, not replaced by a regular file */
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	T_CHECK(mkfifo(fifo, 0600) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		char buf[16];
		int fd = open(fifo, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
		_exit(n == 5 && memcmp(buf, "fifo!", 5) == 0 ? 0 : 1);
	}
	T_CHECK(nl_io_open_write(&w, fifo, 0, &err) == 0);
	T_CHECK(nl_io_write(&w, "fifo!", 5, &err) == 0 && nl_io_close(&w, &err) == 0);
	int status = 1;
	waitpid(pid, &status, 0);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	T_CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
	unlink(fifo);
	/* /dev/null is written, never replaced (this suite may run as root) */
	T_CHECK(nl_io_open_write(&w, "/dev/null", 0, &err) == 0);
	T_CHECK(nl_io_write(&w, "x", 1, &err) == 0 && nl_io_close(&w, &err) == 0);
	T_CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
	T_CHECK(count_entries() == 0);
}

T_TEST(ignored_signals_stay_ignored)
{
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGHUP, SIG_IGN);
		nl_io_install_signals();
		raise(SIGHUP);
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

T_TEST(read_errors)
{
	struct nl_io r;
	struct nl_err err = { 0, "" };

	T_CHECK(nl_io_open_read(&r, "/nonexistent/file", 0, &err) < 0 &&
	    strcmp(err.msg, "No such file or directory") == 0);
	T_CHECK(nl_io_open_read(&r, "/tmp", 0, &err) < 0 && strcmp(err.msg, "Is a directory") == 0);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	T_RUN(memory_streams);
	T_RUN(peek_on_a_pipe);
	T_RUN(atomic_output);
	T_RUN(signal_removes_temporary);
	T_RUN(links_and_devices);
	T_RUN(ignored_signals_stay_ignored);
	T_RUN(read_errors);
	rmdir(dir);
	return t_done();
}
