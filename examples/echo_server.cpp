// echo_server: a TCP echo server with goro — one goroutine per connection, plain blocking code.
//
// Shows goro::net read / write; the accept loop and the clean shutdown on SIGINT or SIGTERM are
// in server.hpp, shared with http_server.cpp.
//
//   echo_server [--addr HOST:PORT]      (default 127.0.0.1:7000; port 0 picks a free port)
//   prints "LISTENING host:port" once it accepts connections; try it with `nc 127.0.0.1 7000`.
#include "server.hpp"

#include <goro/goro.hpp>

#include <system_error>

// Echoes everything it reads until the client closes the connection.
void echo(goro::net::Conn conn) {
  std::byte buf[4096];
  try {
    while (std::size_t n = conn.read(buf)) conn.write({buf, n});
  } catch (const std::system_error&) {  // reset by the client: just drop the connection
  }
}

int main(int argc, char** argv) { return example::server_main(argc, argv, echo); }
