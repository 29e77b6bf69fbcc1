#include "serve.h"

#include <httplib.h>
#include <sys/socket.h>

#include "reckon/runtime/error.h"

namespace reckon::cli {
namespace {

using ensemble::LoadedEnsemble;

nlohmann::json parse_body(const std::string& body) {
  try {
    nlohmann::json j = nlohmann::json::parse(body);
    if (!j.is_object()) RECKON_THROW(StatusCode::kInvalidArgument, "the body must be a JSON object");
    return j;
  } catch (const nlohmann::json::parse_error& e) {
    RECKON_THROW(StatusCode::kInvalidArgument, "the body is not JSON: ", e.what());
  }
}

// The request's session as catalogue indices; items the catalogue lacks become -1 and are listed in `unknown`.
ensemble::Request read_request(const LoadedEnsemble& e, const nlohmann::json& j, int k, nlohmann::json& unknown) {
  if (!j.contains("session") || !j["session"].is_array() || j["session"].empty()) {
    RECKON_THROW(StatusCode::kInvalidArgument, "'session' must be a non-empty array of item ids");
  }
  ensemble::Request r;
  r.k = k;
  unknown = nlohmann::json::array();
  for (const auto& item : j["session"]) {
    if (!item.is_string()) RECKON_THROW(StatusCode::kInvalidArgument, "'session' holds item ids as strings, got ", item.dump());
    const std::int32_t index = e.catalog.lookup(item.get<std::string>());
    if (index < 0) unknown.push_back(item);
    r.session.push_back(index);
  }
  if (j.contains("features")) {
    if (!j["features"].is_object()) RECKON_THROW(StatusCode::kInvalidArgument, "'features' must be an object of field names to values");
    for (const auto& [name, value] : j["features"].items()) {
      if (value.is_string()) {
        r.features[name] = value.get<std::string>();
      } else if (value.is_number()) {
        r.features[name] = value.dump();
      } else {
        RECKON_THROW(StatusCode::kInvalidArgument, "feature '", name, "' must be a string or a number, got ", value.dump());
      }
    }
  }
  return r;
}

nlohmann::json components_json(const ensemble::Response& r) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : r.components) {
    nlohmann::json j = {{"name", c.name}, {"outcome", ensemble::to_string(c.outcome)}, {"ms", c.milliseconds}};
    if (!c.message.empty()) j["message"] = c.message;
    out.push_back(j);
  }
  return out;
}

// Runs `handler`, turning a bad request into 400 and anything else into 500, with the message.
template <typename F>
Reply guarded(F&& handler) {
  try {
    return handler();
  } catch (const Error& err) {
    const bool bad = err.code() == StatusCode::kInvalidArgument || err.code() == StatusCode::kOutOfRange;
    return {bad ? 400 : 500, {{"error", err.message()}}};
  } catch (const nlohmann::json::exception& err) {
    return {400, {{"error", err.what()}}};
  } catch (const std::exception& err) {
    return {500, {{"error", err.what()}}};
  }
}

int read_k(const nlohmann::json& j, int fallback) {
  if (!j.contains("k")) return fallback;
  if (!j["k"].is_number_integer()) RECKON_THROW(StatusCode::kInvalidArgument, "'k' must be an integer");
  return j["k"].get<int>();
}

}  // namespace

Reply handle_recommend(LoadedEnsemble& e, const std::string& body) {
  return guarded([&] {
    const nlohmann::json j = parse_body(body);
    nlohmann::json unknown;
    const ensemble::Request request = read_request(e, j, read_k(j, 20), unknown);
    const ensemble::Response r = e.ensemble->recommend(request);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& s : r.items) items.push_back({{"item", e.catalog.names[static_cast<std::size_t>(s.item)]}, {"score", s.score}});
    return Reply{200, {{"items", items}, {"unknown", unknown}, {"answered", r.answered}, {"components", components_json(r)}, {"ms", r.milliseconds}}};
  });
}

Reply handle_score(LoadedEnsemble& e, const std::string& body) {
  return guarded([&] {
    const nlohmann::json j = parse_body(body);
    if (!j.contains("items") || !j["items"].is_array()) RECKON_THROW(StatusCode::kInvalidArgument, "'items' must be an array of item ids");
    nlohmann::json unknown;
    const ensemble::Request request = read_request(e, j, e.ensemble->blend().depth, unknown);
    const ensemble::Response r = e.ensemble->recommend(request);
    nlohmann::json scores = nlohmann::json::array();
    for (const auto& item : j["items"]) {
      if (!item.is_string()) RECKON_THROW(StatusCode::kInvalidArgument, "'items' holds item ids as strings, got ", item.dump());
      const std::int32_t index = e.catalog.lookup(item.get<std::string>());
      nlohmann::json s = {{"item", item}, {"score", nullptr}, {"rank", nullptr}};  // null: in no component's list
      for (std::size_t at = 0; at < r.items.size(); ++at) {
        if (r.items[at].item == index) s["score"] = r.items[at].score, s["rank"] = at + 1;
      }
      scores.push_back(s);
    }
    return Reply{200, {{"scores", scores}, {"unknown", unknown}, {"answered", r.answered}, {"components", components_json(r)}, {"ms", r.milliseconds}}};
  });
}

Reply handle_health(const LoadedEnsemble& e) {
  nlohmann::json components = nlohmann::json::array();
  int closed = 0;
  for (const ensemble::ComponentHealth& h : e.ensemble->health()) {
    nlohmann::json calls = nlohmann::json::object();
    for (std::size_t o = 0; o < ensemble::kOutcomes; ++o) calls[ensemble::to_string(static_cast<ensemble::Outcome>(o))] = h.outcomes[o];
    closed += h.circuit != ensemble::CircuitState::kOpen;
    components.push_back({{"name", h.name}, {"circuit", ensemble::to_string(h.circuit)}, {"times_opened", h.times_opened},
                          {"calls", calls}, {"p50_ms", h.latency->quantile(0.5) * 1e3}, {"p99_ms", h.latency->quantile(0.99) * 1e3}});
  }
  const int total = static_cast<int>(components.size());
  const char* status = closed == total ? "ok" : closed > 0 ? "degraded" : "down";
  return {closed > 0 ? 200 : 503, {{"status", status}, {"components", components}}};
}

struct EnsembleServer::Impl {
  httplib::Server server;
  LoadedEnsemble& ensemble;
  int socket = -1;
  Impl(LoadedEnsemble& e, int threads) : ensemble(e) {
    server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    server.set_payload_max_length(1 << 20);
    server.set_keep_alive_max_count(100000);  // a client's connection serves many requests
    server.set_tcp_nodelay(true);             // small replies: Nagle and delayed ACKs would add 40 ms each
    server.set_socket_options([this](int fd) {  // the listening socket, kept to widen its backlog after bind
      const int yes = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      socket = fd;
    });
    const auto reply = [](httplib::Response& res, const Reply& r) { res.status = r.status; res.set_content(r.body.dump(), "application/json"); };
    server.Post("/recommend", [this, reply](const httplib::Request& req, httplib::Response& res) { reply(res, handle_recommend(ensemble, req.body)); });
    server.Post("/score", [this, reply](const httplib::Request& req, httplib::Response& res) { reply(res, handle_score(ensemble, req.body)); });
    server.Get("/health", [this, reply](const httplib::Request&, httplib::Response& res) { reply(res, handle_health(ensemble)); });
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { res.set_content(ensemble.ensemble->metrics_text(), "text/plain; version=0.0.4"); });
    server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (res.body.empty()) res.set_content(nlohmann::json{{"error", "no such endpoint or method (POST /recommend, POST /score, GET /health, GET /metrics)"}}.dump(), "application/json");
    });
  }
};

EnsembleServer::EnsembleServer(LoadedEnsemble& ensemble, int threads) : impl_(std::make_unique<Impl>(ensemble, std::max(1, threads))) {}
EnsembleServer::~EnsembleServer() = default;

int EnsembleServer::bind(const std::string& host, int port) {
  const int bound = port == 0 ? impl_->server.bind_to_any_port(host) : (impl_->server.bind_to_port(host, port) ? port : -1);
  if (bound < 0) RECKON_THROW(StatusCode::kIoError, "cannot listen on ", host, ":", port);
  // cpp-httplib's build listens with a backlog of 5: clients connecting at once beyond that wait out a SYN
  // retransmission (a second). Listening again on the bound socket widens it.
  if (impl_->socket >= 0) ::listen(impl_->socket, SOMAXCONN);
  return bound;
}

void EnsembleServer::run() { impl_->server.listen_after_bind(); }
void EnsembleServer::stop() { impl_->server.stop(); }

}  // namespace reckon::cli
