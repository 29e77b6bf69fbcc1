// `reckon serve`: an ensemble behind HTTP/JSON on loopback (cpp-httplib).
//   POST /recommend  {"session": ["item", ...], "k": 20}        the blend's top k and each component's outcome;
//                    "features": {"user": "42", ...} (optional) for CTR components (one that none reads: 400)
//   POST /score      {"session": [...], "items": ["item", ...]} the blend's score and rank of each item given
//   GET  /health     circuits, outcome counts and latency quantiles per component (503 when every circuit is open)
//   GET  /metrics    the Prometheus text format
// A bad request is answered 400 with {"error": "..."}, never a crash.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "reckon/models/ensemble/config.h"

namespace reckon::cli {

// The handlers, without HTTP: status code and body for a request body (tests call them directly).
struct Reply {
  int status = 200;
  nlohmann::json body;
};
Reply handle_recommend(ensemble::LoadedEnsemble& e, const std::string& body);
Reply handle_score(ensemble::LoadedEnsemble& e, const std::string& body);
Reply handle_health(const ensemble::LoadedEnsemble& e);

class EnsembleServer {
 public:
  EnsembleServer(ensemble::LoadedEnsemble& ensemble, int threads);
  ~EnsembleServer();
  // Binds host:port (port 0: a free one) and returns the port; kIoError when it cannot.
  int bind(const std::string& host, int port);
  void run();   // serves until stop()
  void stop();  // from any thread; run() returns once the requests in flight are answered

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reckon::cli
