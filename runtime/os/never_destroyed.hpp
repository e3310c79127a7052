// runtime/os/never_destroyed.hpp — static storage for an object whose destructor must never run.
//
// std::exit() called while a runtime runs (a C++ program's os.Exit) runs static destructors while
// the workers still use the runtime's global state. A union member is destroyed only by hand, and
// nothing does. Bind a reference to `value` (`inline constinit T& name = storage.value;`): it is
// known at compile time, so using it costs no pointer load.
#pragma once

namespace goro::rt::os {

template <class T>
union NeverDestroyed {
  T value;
  NeverDestroyed() : value() {}  // instantiated where the storage is defined, with T complete
  ~NeverDestroyed() {}
};

}  // namespace goro::rt::os
