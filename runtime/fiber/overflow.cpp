// runtime/fiber/overflow.cpp — a goroutine that runs off its stack stops the process with a
// message, not with silent corruption.
//
// The guard below each stack (stack.hpp) turns an overflow into SIGSEGV. The handler runs on a
// per-thread alternate signal stack — the goroutine's own stack is exactly what is exhausted —
// asks the scheduler whether the fault hit the running goroutine's guard, and if so writes
//   goro: goroutine 17 overflowed its 256 KiB stack; raise Config::stack_size or GORO_STACK
// and aborts. Any other SIGSEGV goes to whatever handler was installed before ours.
#include "fiber/stack.hpp"

#include <sys/mman.h>
#include <sys/ucontext.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace goro::rt {
namespace {

constexpr std::size_t kAltStackBytes = 64 * 1024;  // the handler, plus room for sanitizers'

std::size_t page_bytes() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }
// An alternate stack's mapping: a guard page, then the stack.
std::size_t alt_mapping_bytes() { return page_bytes() + kAltStackBytes; }

struct sigaction previous_segv;

// Async-signal-safe formatting: append text and decimal numbers to a fixed buffer.
struct Message {
  char buf[256];
  std::size_t len = 0;
  Message& operator<<(const char* s) {
    while (*s && len < sizeof buf) buf[len++] = *s++;
    return *this;
  }
  Message& operator<<(std::uint64_t v) {
    char digits[20];
    int n = 0;
    do digits[n++] = static_cast<char>('0' + v % 10);
    while ((v /= 10) && n < 20);
    while (n && len < sizeof buf) buf[len++] = digits[--n];
    return *this;
  }
};

// The interrupted stack pointer, or null where we do not know how to read it.
const void* fault_sp([[maybe_unused]] void* context) {
  [[maybe_unused]] const auto* uc = static_cast<const ucontext_t*>(context);
#if defined(__x86_64__)
  return reinterpret_cast<const void*>(uc->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  return reinterpret_cast<const void*>(uc->uc_mcontext.sp);
#else
  return nullptr;
#endif
}

void on_segv(int sig, siginfo_t* info, void* context) {
  std::uint64_t goid = 0;
  std::size_t bytes = 0;
  if (goroutine_overflowed(info->si_addr, fault_sp(context), goid, bytes)) {
    Message m;
    m << "goro: goroutine " << goid << " overflowed its ";
    if (bytes % 1024 == 0) m << std::uint64_t{bytes / 1024} << " KiB";
    else m << std::uint64_t{bytes} << " byte";
    m << " stack; raise Config::stack_size or GORO_STACK\n";
    [[maybe_unused]] ssize_t w = ::write(STDERR_FILENO, m.buf, m.len);
    std::abort();
  }
  // Not ours. Hand it on; with no handler before us, restore the default action and return, so
  // the faulting instruction runs again and the kernel kills the process as usual.
  if (previous_segv.sa_flags & SA_SIGINFO) {
    previous_segv.sa_sigaction(sig, info, context);
  } else if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
    previous_segv.sa_handler(sig);
  } else if (previous_segv.sa_handler == SIG_DFL || info->si_code > 0) {
    // A fault re-runs its instruction on return and dies then. A sent SIGSEGV (kill, raise:
    // si_code <= 0) would just be gone, so send it again: pending while this handler runs, it
    // kills the process as the default action does. (An ignored sent one stays ignored.)
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGSEGV, &dfl, nullptr);
    if (info->si_code <= 0) ::raise(sig);
  }
}

}  // namespace

void install_overflow_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSEGV, &sa, &previous_segv);
  });
}

// The alternate stack has a guard page below it, like a goroutine's: the handlers that run there
// (ours, and whatever SIGSEGV handler was installed before it, which we chain to) must not
// overflow into the mapping below unnoticed. A fault there, inside the handler, kills the process.
AltSignalStack::AltSignalStack() {
  const std::size_t page = page_bytes();
  void* mem = ::mmap(nullptr, alt_mapping_bytes(), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return;  // no alternate stack: an overflow then dies without a message
  stack_t ss{};
  ss.ss_sp = static_cast<char*>(mem) + page;
  ss.ss_size = kAltStackBytes;
  if (::mprotect(mem, page, PROT_NONE) != 0 || ::sigaltstack(&ss, &old_) != 0) {
    ::munmap(mem, alt_mapping_bytes());
    return;
  }
  mem_ = mem;
  restore_ = true;
}

AltSignalStack::~AltSignalStack() {
  if (!mem_) return;
  if (restore_) ::sigaltstack(&old_, nullptr);
  ::munmap(mem_, alt_mapping_bytes());
}

}  // namespace goro::rt
