// goro/detail/wait_reason.hpp — why a goroutine is parked, as goro::dump shows it.
#pragma once

#include <cstdint>

namespace goro::detail {

enum class WaitReason : std::uint8_t {
  none,
  chan_receive,
  chan_send,
  chan_receive_nil,
  chan_send_nil,
  select,
  select_no_cases,
  sleep,
  sync_mutex,
  sync_rwmutex_lock,
  sync_rwmutex_rlock,
  sync_waitgroup,
  sync_cond,
  sync_once,
  semaphore,
  io_wait,
  test,  // parked by the runtime's own tests
};

// Go's spelling, where Go has the same wait.
constexpr const char* describe(WaitReason r) {
  switch (r) {
    case WaitReason::none: return "";
    case WaitReason::chan_receive: return "chan receive";
    case WaitReason::chan_send: return "chan send";
    case WaitReason::chan_receive_nil: return "chan receive (nil chan)";
    case WaitReason::chan_send_nil: return "chan send (nil chan)";
    case WaitReason::select: return "select";
    case WaitReason::select_no_cases: return "select (no cases)";
    case WaitReason::sleep: return "sleep";
    case WaitReason::sync_mutex: return "sync.Mutex.Lock";
    case WaitReason::sync_rwmutex_lock: return "sync.RWMutex.Lock";
    case WaitReason::sync_rwmutex_rlock: return "sync.RWMutex.RLock";
    case WaitReason::sync_waitgroup: return "sync.WaitGroup.Wait";
    case WaitReason::sync_cond: return "sync.Cond.Wait";
    case WaitReason::sync_once: return "sync.Once.Do";
    case WaitReason::semaphore: return "semaphore acquire";
    case WaitReason::io_wait: return "IO wait";
    case WaitReason::test: return "test wait";
  }
  return "?";
}

}  // namespace goro::detail
