// tests/main.cpp — doctest's runner, plus the `--child NAME` mode of support.hpp.
#define DOCTEST_CONFIG_IMPLEMENT
#include "support.hpp"

#include "sched/park.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

extern char** environ;

namespace goro_test {

std::map<std::string, ChildMain>& children() {
  static std::map<std::string, ChildMain> all;
  return all;
}

ChildResult run_child(const std::string& name, const std::vector<std::string>& env) {
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipefd[0]);

  std::vector<std::string> env_strings(env.begin(), env.end());
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string self = "/proc/self/exe", flag = "--child", child = name;
  char* argv[] = {self.data(), flag.data(), child.data(), nullptr};

  pid_t pid;
  REQUIRE(posix_spawn(&pid, self.c_str(), &actions, nullptr, argv, envp.data()) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  ChildResult r;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) r.err.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

void park_forever() { goro::rt::park(goro::rt::WaitReason::test, nullptr, nullptr); }

void Signal::lock() {
  while (locked_.exchange(true, std::memory_order_acquire))
    while (locked_.load(std::memory_order_relaxed)) {
    }
}

struct SignalAccess {
  static bool unlock(goro::rt::G*, void* self) {
    static_cast<Signal*>(self)->unlock();
    return true;
  }
};

void Signal::wait() {
  lock();
  if (token_) {
    token_ = false;
    unlock();
    return;
  }
  waiter_ = goro::rt::current_g();
  REQUIRE(waiter_ != nullptr);
  goro::rt::park(goro::rt::WaitReason::test, &SignalAccess::unlock, this);
}

void Signal::signal() {
  lock();
  if (auto* g = static_cast<goro::rt::G*>(waiter_)) {
    waiter_ = nullptr;
    unlock();
    goro::rt::ready(g);
    return;
  }
  token_ = true;
  unlock();
}

long long cpu_time_ns() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) { return tv.tv_sec * 1'000'000'000LL + tv.tv_usec * 1000LL; };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

}  // namespace goro_test

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "--child") {
    auto it = goro_test::children().find(argv[2]);
    if (it == goro_test::children().end()) return 99;
    return it->second();
  }
  doctest::Context context(argc, argv);
  return context.run();
}
