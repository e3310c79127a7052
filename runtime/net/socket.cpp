// runtime/net/socket.cpp
#include "net/socket.hpp"

#include <goro/net.hpp>

#include "sched/g.hpp"
#include "sched/sched.hpp"
#include "sched/wait.hpp"

#include <unistd.h>

#include <stdexcept>
#include <system_error>

namespace goro::net::detail {
namespace {

rt::PollDesc* register_fd(int fd) {
  if (!rt::sched.running.load(std::memory_order_acquire)) {
    ::close(fd);
    throw std::logic_error("goro: sockets need a running runtime; use goro::net inside goro::run");
  }
  rt::note_plain_thread();  // a plain thread with a socket may wake a goroutine later
  try {
    return rt::poller.open(fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
}

}  // namespace

Socket::Socket(int descriptor)
    : fd(descriptor), pd(register_fd(descriptor)), generation(rt::sched.generation.load()) {}

Socket::~Socket() { close(); }  // no call can be running: each holds the Socket (Op)

bool Socket::runtime_alive() const {
  return rt::sched.running.load(std::memory_order_acquire) &&
         rt::sched.generation.load(std::memory_order_acquire) == generation;
}

// close() and release() touch the poller only as an "external op" of their runtime
// (sched/spawn.cpp): that keeps the runtime from tearing down under them. If it is stopping or
// gone, its teardown closes the descriptor instead (net/poller.cpp Poller::stop).
void Socket::close() {
  if (state_.fetch_or(kClosed, std::memory_order_acq_rel) & kClosed) return;  // twice: harmless
  if (const rt::ExternalScope external; external.admitted() && runtime_alive())
    rt::poller.close(pd);  // wakes blocked calls
  release();
}

void Socket::release() {
  if (state_.fetch_sub(1, std::memory_order_acq_rel) - 1 != kClosed) return;  // closed and unused?
  if (const rt::ExternalScope external; external.admitted() && runtime_alive()) {
    ::close(fd);  // closed, and no call uses it any more
    rt::poller.release(pd);
  }
}

Socket::Op::Op(std::shared_ptr<Socket> socket) : s_(std::move(socket)) {
  Socket& s = *s_;
  std::uint64_t v = s.state_.load(std::memory_order_acquire);
  do {
    if (v & kClosed)
      throw std::system_error(std::make_error_code(std::errc::bad_file_descriptor),
                              "goro: use of a closed network connection");
  } while (!s.state_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel));
  if (!s.runtime_alive()) {
    s.release();
    throw std::logic_error("goro: this connection belongs to a goro runtime that has stopped");
  }
  if (rt::on_worker_thread()) return;
  external_ = rt::try_enter_external();
  if (!external_) {  // stopping: it is closing the descriptor
    s.release();
    throw std::system_error(std::make_error_code(std::errc::bad_file_descriptor),
                            "goro: use of a closed network connection (its runtime is stopping)");
  }
}

Socket::Op::~Op() {
  s_->release();
  if (external_) rt::leave_external();
}

void Socket::Op::pause() {
  if (external_) rt::leave_external();
  external_ = false;
}

void Socket::Op::resume(const char* op) {
  if (rt::on_worker_thread()) return;
  external_ = rt::try_enter_external();
  // Entering is not enough: the run may have stopped while we waited, closing our descriptor,
  // and the next one started, where the number may be another socket's.
  if (external_ && !s_->runtime_alive()) {
    rt::leave_external();
    external_ = false;
  }
  if (!external_)
    throw std::system_error(std::make_error_code(std::errc::bad_file_descriptor),
                            std::string("goro: ") + op + ": use of a closed network connection (its runtime stopped)");
}

void Socket::Op::wait(bool write, const char* op) {
  pause();
  // A goroutine that a stopping runtime abandons here never gives its turn back, and a plain
  // thread waiting for the turn would wait for ever: teardown gives it back for it (settle.hpp).
  rt::G* const g = turn_ ? rt::current_g() : nullptr;
  if (g) {
    g->on_abandon = [](void* turn) { static_cast<Mutex*>(turn)->unlock(); };
    g->abandon_arg = turn_;
  }
  const rt::PollResult r = rt::poller.wait(s_->pd, write);
  if (g) g->on_abandon = nullptr;
  resume(op);
  if (r != rt::PollResult::ready) s_->check(write, op);
}

std::unique_lock<Mutex> Socket::Op::take_turn(Mutex& turn, const char* op) {
  if (turn.try_lock()) {
    turn_ = &turn;
    return std::unique_lock<Mutex>(turn, std::adopt_lock);
  }
  pause();
  std::unique_lock<Mutex> held(turn);
  resume(op);
  turn_ = &turn;
  return held;
}

void Socket::throw_errno(int err, const char* op) const {
  std::string what = std::string("goro: ") + op;
  if (!remote.empty()) what += " " + remote;
  else if (!local.empty()) what += " " + local;
  throw std::system_error(err, std::system_category(), what);
}

void Socket::check(bool write, const char* op) {
  switch (rt::poller.check(pd, write)) {
    case rt::PollResult::ready: return;
    case rt::PollResult::closing:
      throw std::system_error(std::make_error_code(std::errc::bad_file_descriptor),
                              std::string("goro: ") + op + ": use of a closed network connection");
    case rt::PollResult::timeout:
      throw net::timeout_error(std::string("goro: ") + op + ": i/o timeout (deadline passed)");
  }
}

}  // namespace goro::net::detail
