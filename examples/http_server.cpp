// http_server: an HTTP/1.1 server with goro — one goroutine per connection, plain blocking code,
// requests parsed by a real HTTP parser (Debian's libhttp-parser-dev, the parser Node.js used).
//
// Shows keep-alive and pipelining on one connection (every request read so far is answered with
// one write), HTTP/1.0 and "Connection: close" semantics, 400 and closing on a malformed
// request, and a lingering close. The accept loop and the clean shutdown on SIGINT or SIGTERM are in server.hpp.
//
//   http_server [--addr HOST:PORT]      (default 127.0.0.1:7000; port 0 picks a free port)
//   prints "LISTENING host:port" once it accepts connections; then `curl http://127.0.0.1:7000/`.
//   GET / answers "hello\n"; any other path is 404.
#include "server.hpp"

#include <goro/goro.hpp>

#include <http_parser.h>

#include <chrono>
#include <ctime>
#include <string>
#include <string_view>
#include <system_error>

// One connection's state, reached from the parser's callbacks through parser.data.
struct Session {
  http_parser parser;
  std::string url;     // of the request being parsed
  std::string out;     // answers not written yet (several when requests come pipelined)
  bool close = false;  // write what is in `out`, then close the connection
};

void respond(Session& s, const char* status, std::string_view body) {
  const bool keep_alive = http_should_keep_alive(&s.parser);
  char date[64];
  std::time_t now = std::time(nullptr);
  std::tm utc;
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &utc));
  s.out.append("HTTP/1.1 ").append(status).append("\r\nDate: ").append(date);
  s.out.append("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  s.out.append(std::to_string(body.size())).append("\r\n");
  if (!keep_alive) s.out.append("Connection: close\r\n");
  else if (s.parser.http_minor == 0) s.out.append("Connection: keep-alive\r\n");  // HTTP/1.0
  s.out.append("\r\n");
  if (s.parser.method != HTTP_HEAD) s.out.append(body);
  if (!keep_alive) {
    s.close = true;
    http_parser_pause(&s.parser, 1);  // ignore whatever the client sent after this request
  }
}

Session& session(http_parser* p) { return *static_cast<Session*>(p->data); }

int on_message_begin(http_parser* p) {
  session(p).url.clear();
  return 0;
}

int on_url(http_parser* p, const char* at, std::size_t n) {  // the URL may come in pieces
  session(p).url.append(at, n);
  return 0;
}

int on_message_complete(http_parser* p) {
  Session& s = session(p);
  std::string_view path = std::string_view(s.url).substr(0, s.url.find('?'));
  if (path == "/") respond(s, "200 OK", "hello\n");
  else respond(s, "404 Not Found", "404 page not found\n");
  return 0;
}

const http_parser_settings callbacks = [] {
  http_parser_settings c;
  http_parser_settings_init(&c);
  c.on_message_begin = on_message_begin;
  c.on_url = on_url;
  c.on_message_complete = on_message_complete;
  return c;
}();

// Closing while the client's input is unread makes the kernel reset the connection, and a reset
// can destroy the last answer before the client reads it. So send the end of stream first and
// read until the client closes too, for at most kLinger (Go's server sends it and then waits
// that long; reading ends the wait as soon as the client is done).
constexpr std::chrono::milliseconds kLinger{500};

void linger(const goro::net::Conn& conn) {
  conn.close_write();
  conn.set_read_deadline(std::chrono::steady_clock::now() + kLinger);
  char sink[4096];
  while (conn.read(sink) > 0) {
  }
}

void serve_http(goro::net::Conn conn) {
  Session s;
  http_parser_init(&s.parser, HTTP_REQUEST);
  s.parser.data = &s;
  char buf[4096];
  try {
    while (!s.close) {
      std::size_t n = conn.read(buf);
      if (n == 0) break;  // the client closed the connection
      http_parser_execute(&s.parser, &callbacks, buf, n);  // calls respond() per complete request
      http_errno err = HTTP_PARSER_ERRNO(&s.parser);
      if (err != HPE_OK && err != HPE_PAUSED) {  // malformed: answer 400 and close
        s.out.append("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        s.close = true;
      }
      if (s.parser.upgrade) s.close = true;  // a protocol switch (e.g. WebSocket): not offered here
      if (!s.out.empty()) conn.write(s.out);
      s.out.clear();
    }
    if (s.close) linger(conn);
  } catch (const std::system_error&) {  // reset by the client (or it lingered): just drop it
  }
}

int main(int argc, char** argv) { return example::server_main(argc, argv, serve_http); }
