// `reckon serve` (an ensemble over HTTP until SIGINT or SIGTERM) and `reckon ensemble load` (the same server under
// concurrent clients: latency, throughput and quality, with or without injected failures).
#include <fmt/format.h>
#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <thread>

#include "commands.h"
#include "reckon/models/ensemble/blend.h"
#include "reckon/models/session/clicks.h"
#include "reckon/runtime/file_io.h"
#include <sstream>
#include "serve.h"

namespace reckon::cli {
namespace {

struct ServeArgs {
  CommonOptions common;
  std::string config, host = "127.0.0.1";
  int port = 8080, http_threads = 16;
  std::vector<std::string> inject;
};

std::vector<ensemble::FaultSpec> faults_of(const std::vector<std::string>& specs) {
  std::vector<ensemble::FaultSpec> out;
  for (const std::string& s : specs) out.push_back(ensemble::parse_fault(s));
  return out;
}

ensemble::LoadedEnsemble load(const ServeArgs& a) {
  return ensemble::load_ensemble(a.config, make_context(a.common).device(), faults_of(a.inject), a.common.seed);
}

nlohmann::json run_serve(const ServeArgs& a) {
  // SIGINT and SIGTERM go to a thread of their own (blocked everywhere else, before any thread starts), which stops
  // the server: requests in flight are answered, then run() returns.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ensemble::LoadedEnsemble e = load(a);
  EnsembleServer server(e, a.http_threads);
  const int port = server.bind(a.host, a.port);
  fmt::print(stderr, "reckon serve: {} components, {} items; listening on http://{}:{}\n", e.ensemble->health().size(),
             e.catalog.size(), a.host, port);
  std::atomic<int> received{0};
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    received = signal;
    server.stop();
  });
  server.run();
  if (received == 0) pthread_kill(waiter.native_handle(), SIGTERM);  // run() ended on its own: wake the waiter
  waiter.join();
  return {{"port", port}, {"signal", received.load()}, {"health", handle_health(e).body}};
}

// Next-click queries of a log, as item names: the clicks before t and the click at t.
struct NamedQuery {
  std::vector<std::string> session;
  std::string target;
};

std::vector<NamedQuery> named_queries(const std::string& path, std::size_t limit) {
  const session::ClickLog log = session::read_clicks(path, session::ClickReadOptions{});
  std::vector<NamedQuery> out;
  for (std::int64_t s = 0; s < log.sessions() && out.size() < limit; ++s) {
    for (std::int64_t t = log.begin(s) + 1; t < log.end(s) && out.size() < limit; ++t) {
      NamedQuery q;
      for (std::int64_t i = log.begin(s); i < t; ++i) q.session.push_back(log.item_names[static_cast<std::size_t>(log.items[static_cast<std::size_t>(i)])]);
      q.target = log.item_names[static_cast<std::size_t>(log.items[static_cast<std::size_t>(t)])];
      out.push_back(std::move(q));
    }
  }
  RECKON_CHECK_ARG(!out.empty(), path, ": no next-click queries (sessions of two clicks or more)");
  return out;
}

struct LoadArgs {
  ServeArgs serve;
  std::string test, clients = "1,8,64";
  std::size_t requests = 2000;
  int k = 20;
};

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

// `clients` threads send the queries (each its share) to POST /recommend; latency, answers and HR@k.
nlohmann::json load_round(int port, const std::vector<NamedQuery>& queries, int clients, int k) {
  std::vector<std::vector<double>> latency(static_cast<std::size_t>(clients));
  std::atomic<std::int64_t> ok{0}, hits{0}, answered_components{0}, failed{0};
  std::atomic<int> ready{0};
  std::chrono::steady_clock::time_point start;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(30);
      client.set_keep_alive(true);  // one connection per client, as a service's client pool keeps them
      client.set_tcp_nodelay(true);
      client.Get("/health");        // connected before the clock starts
      if (++ready == clients) start = std::chrono::steady_clock::now();
      while (ready < clients) std::this_thread::yield();
      for (std::size_t i = static_cast<std::size_t>(c); i < queries.size(); i += static_cast<std::size_t>(clients)) {
        const nlohmann::json body = {{"session", queries[i].session}, {"k", k}};
        const auto t0 = std::chrono::steady_clock::now();
        const auto res = client.Post("/recommend", body.dump(), "application/json");
        latency[static_cast<std::size_t>(c)].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        if (!res || res->status != 200) {
          ++failed;
          continue;
        }
        ++ok;
        const nlohmann::json j = nlohmann::json::parse(res->body);
        answered_components += j["answered"].get<int>();
        for (const auto& item : j["items"]) hits += item["item"] == queries[i].target;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  for (const auto& l : latency) all.insert(all.end(), l.begin(), l.end());
  const auto n = static_cast<double>(queries.size());
  return {{"clients", clients}, {"requests", queries.size()}, {"ok", ok.load()}, {"failed", failed.load()},
          {"p50_ms", quantile(all, 0.5)}, {"p99_ms", quantile(all, 0.99)}, {"max_ms", quantile(all, 1.0)},
          {"requests_per_second", n / seconds}, {"hr", static_cast<double>(hits.load()) / n},
          {"mean_components_answered", ok > 0 ? static_cast<double>(answered_components.load()) / static_cast<double>(ok.load()) : 0.0}};
}

// Session indices of a named query (-1 for items the catalogue lacks).
std::vector<std::int32_t> indices(const session::Catalog& catalog, const NamedQuery& q) {
  std::vector<std::int32_t> out;
  for (const std::string& name : q.session) out.push_back(catalog.lookup(name));
  return out;
}

double median_ms(const std::function<void(const NamedQuery&)>& call, const std::vector<NamedQuery>& queries) {
  std::vector<double> ms;
  for (const NamedQuery& q : queries) {
    const auto t0 = std::chrono::steady_clock::now();
    call(q);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return quantile(ms, 0.5);
}

// The ensemble machinery's cost: the fastest component called directly (scores, then its top list) against an
// ensemble of that component alone (worker thread, deadline, circuit, blend), one request at a time, in process.
nlohmann::json measure_overhead(const ensemble::LoadedEnsemble& e, std::vector<NamedQuery> queries) {
  queries.resize(std::min<std::size_t>(queries.size(), 500));
  const session::Catalog& catalog = e.catalog;
  const int depth = e.ensemble->blend().depth;
  std::size_t fastest = 0;
  double direct = INFINITY;
  for (std::size_t c = 0; c < e.models.size(); ++c) {
    if (!e.models[c]) continue;  // a CTR component: its scores need the request's features
    ensemble::SessionComponent component(e.names[c], e.models[c], catalog);
    std::vector<float> scores(static_cast<std::size_t>(catalog.size()));
    const double ms = median_ms([&](const NamedQuery& q) {
      const std::vector<std::int32_t> session = indices(catalog, q);
      component.score({session}, scores);
      (void)ensemble::top_of(scores, depth);
    }, queries);
    if (ms < direct) direct = ms, fastest = c;
  }
  std::vector<std::unique_ptr<ensemble::Component>> one;
  one.push_back(std::make_unique<ensemble::SessionComponent>(e.names[fastest], e.models[fastest], catalog));
  ensemble::Ensemble alone(std::move(one), ensemble::Blend::equal(1, depth), catalog.size(), e.ensemble->options());
  const double through = median_ms([&](const NamedQuery& q) { (void)alone.recommend({indices(catalog, q), 20}); }, queries);
  return {{"component", e.names[fastest]}, {"direct_p50_ms", direct}, {"ensemble_p50_ms", through}, {"overhead", through / direct - 1}};
}

nlohmann::json run_load(const LoadArgs& a) {
  const std::vector<NamedQuery> queries = named_queries(a.test, a.requests);
  int most = 1;
  std::stringstream counts(a.clients);
  for (std::string c; std::getline(counts, c, ',');) most = std::max(most, std::atoi(c.c_str()));
  ensemble::LoadedEnsemble e = load(a.serve);
  EnsembleServer server(e, std::max(a.serve.http_threads, most));  // a kept-alive connection holds a thread
  const int port = server.bind("127.0.0.1", 0);
  std::thread serving([&] { server.run(); });
  nlohmann::json rounds = nlohmann::json::array();
  try {
    std::stringstream list(a.clients);
    for (std::string c; std::getline(list, c, ',');) {
      const int clients = std::stoi(c);
      RECKON_CHECK_ARG(clients >= 1 && clients <= 1024, "--clients: each count in [1, 1024], got ", clients);
      if (!a.serve.common.json) print_status_line(fmt::format("{} clients", clients));
      rounds.push_back(load_round(port, queries, clients, a.k));
    }
  } catch (...) {
    server.stop();
    serving.join();
    throw;
  }
  server.stop();
  serving.join();
  if (!a.serve.common.json) print_status_line("the ensemble's overhead over its fastest component");
  return {{"config", a.serve.config}, {"inject", a.serve.inject}, {"deadline_ms", e.ensemble->options().deadline.count()},
          {"rounds", rounds}, {"health", handle_health(e).body}, {"overhead", measure_overhead(e, queries)}};
}

void print_load(const nlohmann::json& j) {
  fmt::print("\nreckon ensemble load: {} (deadline {} ms; injected: {})\n", j["config"].get<std::string>(),
             j["deadline_ms"].get<std::int64_t>(), j["inject"].empty() ? "nothing" : j["inject"].dump());
  fmt::print("{:>8} {:>9} {:>7} {:>9} {:>9} {:>9} {:>10} {:>8} {:>11}\n", "clients", "requests", "failed", "p50 ms",
             "p99 ms", "max ms", "requests/s", "HR@20", "components");
  for (const auto& r : j["rounds"]) {
    fmt::print("{:>8} {:>9} {:>7} {:>9.2f} {:>9.2f} {:>9.2f} {:>10.0f} {:>8.4f} {:>11.2f}\n", r["clients"].get<int>(),
               r["requests"].get<std::size_t>(), r["failed"].get<std::int64_t>(), r["p50_ms"].get<double>(),
               r["p99_ms"].get<double>(), r["max_ms"].get<double>(), r["requests_per_second"].get<double>(),
               r["hr"].get<double>(), r["mean_components_answered"].get<double>());
  }
  const auto& o = j["overhead"];
  fmt::print("the fastest component, {}, called directly: p50 {:.3f} ms; through an ensemble of it alone: p50 {:.3f} ms "
             "({:+.3f} ms, {:+.0f}%)\n", o["component"].get<std::string>(), o["direct_p50_ms"].get<double>(),
             o["ensemble_p50_ms"].get<double>(), o["ensemble_p50_ms"].get<double>() - o["direct_p50_ms"].get<double>(),
             100 * o["overhead"].get<double>());
}

void add_serve_options(CLI::App* cmd, ServeArgs& a) {
  cmd->add_option("--config", a.config, "the ensemble's JSON (reckon ensemble demo --save writes one)")->required();
  cmd->add_option("--inject", a.inject, "failure injection, component:kind:rate (kinds: throw, hang, nan, oom); repeatable");
  cmd->add_option("--http-threads", a.http_threads, "threads answering HTTP requests")->capture_default_str();
  add_common_options(cmd, a.common, kJson | kDevice | kSeed);
}

}  // namespace

void add_serve_command(CLI::App& app, CLI::App& ensemble) {
  auto a = std::make_shared<ServeArgs>();
  auto* serve = app.add_subcommand("serve", "Serve an ensemble over HTTP/JSON on loopback until SIGINT or SIGTERM");
  add_serve_options(serve, *a);
  serve->add_option("--host", a->host, "address to listen on")->capture_default_str();
  serve->add_option("--port", a->port, "port (0: any free one)")->capture_default_str();
  set_run(serve, &a->common, [a] { return run_serve(*a); }, [](const nlohmann::json& j) {
    fmt::print("stopped by signal {}; health at the end: {}\n", j["signal"].get<int>(), j["health"]["status"].get<std::string>());
  });
  auto l = std::make_shared<LoadArgs>();
  auto* load_cmd = ensemble.add_subcommand("load", "A load test of reckon serve on loopback: latency, requests/s and "
                                           "HR@20 at several client counts");
  add_serve_options(load_cmd, l->serve);
  load_cmd->add_option("--test", l->test, "sessions to send (sessions-tsv); each next click is a request")->required();
  load_cmd->add_option("--clients", l->clients, "concurrent clients per round, separated by commas")->capture_default_str();
  load_cmd->add_option("--requests", l->requests, "requests per round")->capture_default_str();
  set_run(load_cmd, &l->serve.common, [l] { return run_load(*l); }, print_load);
}

}  // namespace reckon::cli
