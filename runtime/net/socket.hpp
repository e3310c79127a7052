// runtime/net/socket.hpp — one socket: its descriptor, its PollDesc, and its lifetime.
//
// Every operation holds a reference for its duration (Op). close() marks the socket closed and
// wakes whoever waits on it — they see PollResult::closing and throw — and drops the socket's
// own reference; the descriptor is closed when the last reference goes, at once if no call is
// running. So a descriptor number is never reused while a call on the old socket still uses it
// (Go's fdMutex, reduced to what goro needs). The last Conn handle going closes it too; a call
// under way counts as a handle (Op). Concurrent reads, and concurrent writes, on one socket take
// turns (a goro Mutex per direction): a message is never interleaved with another.
#pragma once

#include <goro/sync.hpp>

#include "net/poller.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace goro::net::detail {

struct Socket {
  explicit Socket(int fd);  // takes ownership; registers with the poller
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  const int fd;  // valid until the last reference is released (after close())
  rt::PollDesc* const pd;
  const std::uint64_t generation;  // the run whose poller holds pd
  std::string local, remote;       // "host:port", filled in when known

  Mutex read_turn, write_turn;
  // Under read_turn: the last read returned less than it asked for, so the socket was empty then
  // (see Conn::read).
  bool read_drained = false;

  void close();

  // Before a syscall: throws if closed or the deadline passed.
  void check(bool write, const char* op);

  // Holds a reference for one operation; throws if the socket is closed or its runtime gone.
  // It holds the Socket object too, as a handle does: the goroutine that owns the last other
  // handle may drop it while the operation waits (a parked select holds its channels the same
  // way), and the socket must outlive the operation.
  //
  // On a plain thread it is also an external op of the runtime (sched/spawn.cpp) while it runs
  // — not while it waits (wait, take_turn): a runtime that stops closes the descriptors of the
  // sockets still open (Poller::stop), and it must not do that between a plain thread's check
  // and its syscall, where the number could be reused by a new descriptor before the syscall
  // and the thread would read or write someone else's connection. Goroutines need none of
  // this: run() ends only once each has reached a scheduling point, which is a wait.
  class Op {
   public:
    explicit Op(std::shared_ptr<Socket> s);
    ~Op();
    Op(const Op&) = delete;
    Op& operator=(const Op&) = delete;

    Socket& socket() const { return *s_; }

    // Waits until the socket may be ready again; throws if it was closed, its deadline passed
    // or (plain thread) its runtime is stopping.
    void wait(bool write, const char* op);
    // Takes a turn (read_turn, write_turn), waiting for it as wait() does.
    std::unique_lock<Mutex> take_turn(Mutex& turn, const char* op);

   private:
    void pause();                 // a plain thread about to block: lets the runtime stop meanwhile
    void resume(const char* op);  // and after: throws if the runtime is stopping

    const std::shared_ptr<Socket> s_;
    bool external_ = false;  // a plain thread's entry, held while it runs
    Mutex* turn_ = nullptr;  // the turn this operation took (take_turn), if any
  };

  [[noreturn]] void throw_errno(int err, const char* op) const;

 private:
  void release();
  bool runtime_alive() const;

  // One word, so that an operation can never take a reference on a socket already closed:
  // kClosed | references (the socket's own until close(), plus one per operation in flight).
  static constexpr std::uint64_t kClosed = std::uint64_t{1} << 63;
  std::atomic<std::uint64_t> state_{1};
};

}  // namespace goro::net::detail
