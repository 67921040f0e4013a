"""What Windows' Python lacks that Linux's has, for the Windows tests.

Read by sitecustomize.py here (which takes these away from a program) and
by tests/test_platforms.py (which finds their uses in the project's code).
From the Python documentation: modules and names marked "Availability:
Unix" or "not Windows".
"""

# Modules that Windows' Python does not have.
POSIX_ONLY_MODULES = frozenset((
    'fcntl', 'resource', 'termios', 'tty', 'pty', 'pwd', 'grp', 'spwd',
    'crypt', 'nis', 'syslog', 'posix', 'pipes', 'ossaudiodev', 'readline',
    'curses', '_curses', '_posixsubprocess', '_posixshmem'))
# The signal names Windows' signal module has; every other SIG* is POSIX's.
WINDOWS_SIGNALS = frozenset((
    'SIGABRT', 'SIGFPE', 'SIGILL', 'SIGINT', 'SIGSEGV', 'SIGTERM',
    'SIGBREAK', 'SIG_DFL', 'SIG_IGN', 'CTRL_C_EVENT', 'CTRL_BREAK_EVENT'))
# Functions and constants of signal and os that only POSIX systems have.
POSIX_ONLY_NAMES = {
    'signal': frozenset((
        'alarm', 'pause', 'setitimer', 'getitimer', 'siginterrupt',
        'pthread_kill', 'pthread_sigmask', 'sigpending', 'sigwait',
        'sigwaitinfo', 'sigtimedwait', 'ITIMER_REAL', 'ITIMER_VIRTUAL',
        'ITIMER_PROF', 'SIG_BLOCK', 'SIG_UNBLOCK', 'SIG_SETMASK',
        'pidfd_send_signal')),
    'os': frozenset((
        'fork', 'forkpty', 'getuid', 'geteuid', 'getgid', 'getegid',
        'getgroups', 'setuid', 'setgid', 'setsid', 'getsid', 'setpgid',
        'setpgrp', 'getpgid', 'getpgrp', 'killpg', 'getppid_', 'nice',
        'getloadavg', 'uname', 'sync', 'chown', 'lchown', 'fchown',
        'mkfifo', 'mknod', 'statvfs', 'fstatvfs', 'pipe2', 'posix_spawn',
        'posix_spawnp', 'sched_getaffinity', 'sched_setaffinity',
        'sched_yield', 'wait3', 'wait4', 'WNOHANG', 'WUNTRACED',
        'WIFSTOPPED', 'WIFSIGNALED', 'WTERMSIG', 'WIFEXITED', 'WEXITSTATUS',
        'O_NONBLOCK', 'O_CLOEXEC', 'O_NOFOLLOW', 'ttyname', 'openpty',
        'getlogin_r', 'pathconf', 'fpathconf', 'sysconf', 'confstr',
        'EX_OK', 'register_at_fork', 'memfd_create', 'eventfd')),
}
# Keyword arguments of subprocess that Windows refuses.
POSIX_ONLY_KEYWORDS = frozenset(('preexec_fn', 'pass_fds'))
