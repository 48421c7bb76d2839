#include "providers/libvirt/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace vc::libvirt {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxOutput = 64 * 1024;  // keep the start of a chatty program's output

Status Failed(const std::string& what) {
  return Status::Internal(what).WithErrorCode(ErrorCode::kOperationFailed);
}

// Closes a file descriptor exactly once.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

}  // namespace

StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                   std::chrono::milliseconds deadline) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Failed(std::string("pipe: ") + std::strerror(errno));
  Fd read_end(fds[0]);
  Fd write_end(fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return Failed("cannot run " + argv[0] + ": " + std::strerror(spawned));
  write_end.reset();  // the child holds the only write end: EOF when it exits

  ProcessResult result;
  const Clock::time_point end = Clock::now() + deadline;
  bool timed_out = false;
  char buffer[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{read_end.get(), POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = read(read_end.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the program closed its output (it has exited, as a rule)
    if (result.output.size() < kMaxOutput) result.output.append(buffer, static_cast<size_t>(n));
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  // After EOF the program may still be exiting; a program that closed its output and goes on
  // running is killed at the deadline too.
  while (true) {
    const pid_t r = waitpid(pid, &status, timed_out ? 0 : WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR)
      return Failed("waiting for " + argv[0] + ": " + std::strerror(errno));
    if (r == 0) {
      if (Clock::now() >= end) {
        kill(pid, SIGKILL);
        timed_out = true;
      } else {
        usleep(10000);
      }
    }
  }
  if (timed_out) {
    return Status::Unavailable(argv[0] + " did not finish within " +
                               std::to_string(deadline.count() / 1000) + " s; it was killed")
        .WithErrorCode(ErrorCode::kTimeout);
  }
  if (WIFSIGNALED(status))
    return Failed(argv[0] + " was killed by signal " + std::to_string(WTERMSIG(status)));
  result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace vc::libvirt
