// The composition root: configuration → nodes, routes, pipelines, listeners → thread pool.
#include <atomic>
#include <csignal>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miroir/admin/routes.hpp>
#include <miroir/app/app.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/fleet/keys.hpp>
#include <miroir/fleet/settings_state.hpp>
#include <miroir/fleet/topology.hpp>
#include <miroir/fleet/write_gate.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/pipeline.hpp>
#include <miroir/http/router.hpp>
#include <miroir/http/server.hpp>
#include <miroir/log/log.hpp>
#include <miroir/meili/aliases.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/meili/sessions.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/tasks/store.hpp>
#include <miroir/upstream/health.hpp>
#include <miroir/upstream/node_client.hpp>
#include <miroir/upstream/observed.hpp>
#include <miroir/util/uuid.hpp>
#include <miroir/version.hpp>
#include <miroir/workers/dump_import.hpp>
#include <miroir/workers/supervisor.hpp>
#include <miroir/workers/workers.hpp>

namespace miroir::app {

namespace asio = boost::asio;

struct App::Impl {
    explicit Impl(config::Config cfg)
        : config(std::move(cfg)),
          threads(config.server.threads ? config.server.threads
                                        : std::max(1u, std::thread::hardware_concurrency())),
          io(1),
          nodes([this](const fleet::NodeEntry& node) {
              upstream::PoolOptions pool;
              pool.max_connections = config.upstream.max_connections_per_node;
              pool.idle_connections = config.upstream.idle_connections_per_node;
              pool.connect_timeout = std::chrono::milliseconds(config.upstream.connect_timeout_ms);
              pool.api_key = config.node_master_key;
              return std::make_unique<upstream::NodeClient>(
                  io.get_executor(), upstream::NodeEndpoint{node.id, node.host, node.port}, pool,
                  &metrics);
          }),
          fleets(placeholder(config)),
          store(tasks::open_store(config.task_store, io.get_executor())),
          health(fleet::NodeClients::kMaxNodes,
                 {config.health.unhealthy_threshold, config.health.recovery_threshold}),
          observed(fleet::NodeClients::kMaxNodes, config.scatter.adaptive.half_life_ms),
          hedge_budget(config.scatter.hedging.budget_fraction),
          keys(config.master_key),
          context{io.get_executor(), config,       metrics, nodes,    fleets, *store,       health,
                  observed,          hedge_budget, keys,    settings, writes, reshard_reads} {
        meili::add_misc_routes(router, context);
        meili::add_task_routes(router, context);
        meili::add_write_routes(router, context);
        meili::add_document_read_routes(router, context);
        meili::add_index_routes(router, context);
        meili::add_instance_routes(router, context);
        meili::add_key_routes(router, context);
        meili::add_settings_routes(router, context);
        meili::add_search_routes(router, context);
        meili::add_explain_routes(router, context);
        meili::add_feature_routes(router, context);
        meili::add_webhook_routes(router, context);
        meili::add_chat_routes(router, context);
        meili::add_export_routes(router, context);
        meili::add_field_routes(router, context);
        meili::add_experimental_routes(router, context);
        meili::add_network_routes(router, context);
        meili::add_log_routes(router, context);
        context.task_finished = [this](const tasks::Task& task) {
            workers::notify_webhooks(context, task);
        };
        admin::add_admin_routes(router, context);
        admin::add_placement_routes(router, context);
        admin::add_topology_routes(router, context);
        admin::add_alias_routes(router, context);
        admin::add_ttl_routes(router, context);
        admin::add_ilm_routes(router, context);
        admin::add_dump_routes(router, context);
        admin::add_reshard_routes(router, context);
        admin::add_worker_routes(router, supervisor);
        admin::add_metrics_listener_routes(metrics_router, context);
    }

    // Until the stored topology is loaded: the configuration's, as version 0 (no node client
    // exists yet, and nothing is served).
    static std::shared_ptr<const fleet::Fleet> placeholder(const config::Config& config) {
        auto seed = fleet::Topology::seed(config);
        seed.version = 0;
        return std::make_shared<const fleet::Fleet>(std::move(seed));
    }

    config::Config config;
    unsigned threads;
    // One io_context per thread: `io` (the main thread's) runs the listeners' accept loops and
    // the background work; each client connection is served by one of `io` and `workers` in
    // turn, with the node connections of that context, so a request never changes threads.
    asio::io_context io;
    std::vector<std::unique_ptr<asio::io_context>> workers;
    metrics::Metrics metrics;
    fleet::NodeClients nodes;
    fleet::FleetHolder fleets;
    std::unique_ptr<tasks::Store> store;
    upstream::HealthTable health;
    upstream::NodeObservations observed;
    upstream::HedgeBudget hedge_budget;
    fleet::KeyRing keys;
    fleet::SettingsVersions settings;
    fleet::WriteGate writes;
    fleet::WriteGate reshard_reads;
    fleet::Context context;
    workers::Supervisor supervisor{io.get_executor(), metrics};
    http::Router router;
    http::Router metrics_router;
};

App::App(config::Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
App::~App() = default;

namespace {

// Loads the stored topology, or stores the configuration's as the first, before anything is
// served; the task store may not be up yet (Redis starting beside Miroir): waits for it.
asio::awaitable<void> load_first_topology(fleet::Context& ctx) {
    for (std::uint32_t delay = 250;; delay = std::min<std::uint32_t>(delay * 2, 5000)) {
        std::string error;
        try {
            co_await fleet::load_topology(ctx);
            co_await workers::follow_write_gate(ctx);  // closed while a shard is copied
            co_return;
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
        log::warn("task store not ready, retrying",
                  {{"error", error}, {"retry_ms", static_cast<std::int64_t>(delay)}});
        asio::steady_timer timer(ctx.executor);
        timer.expires_after(std::chrono::milliseconds(delay));
        co_await timer.async_wait(asio::use_awaitable);
    }
}

void load_topology_now(asio::io_context& io, fleet::Context& ctx) {
    std::exception_ptr failure;
    bool loaded = false;
    asio::co_spawn(io, load_first_topology(ctx), [&failure, &loaded](std::exception_ptr e) {
        failure = e;
        loaded = true;
    });
    // until it is loaded, not until `io` runs out of work (a Redis connection stays open)
    while (!loaded && io.run_one() > 0) {
    }
    io.restart();  // it stops when it runs out of work (SQLite answers at once)
    if (failure) std::rethrow_exception(failure);
    if (!loaded) throw std::runtime_error("the topology could not be loaded");
}

http::ServerOptions server_options(const config::Config& cfg) {
    http::ServerOptions options;
    options.bind = cfg.server.bind;
    options.port = cfg.server.port;
    options.max_body_bytes = cfg.server.max_body_bytes;
    options.header_timeout = std::chrono::milliseconds(cfg.server.header_timeout_ms);
    options.body_timeout = std::chrono::milliseconds(cfg.server.body_timeout_ms);
    options.idle_timeout = std::chrono::milliseconds(cfg.server.idle_timeout_ms);
    return options;
}

// SIGTERM or SIGINT: the listeners stop accepting and drain their connections; then every
// background job is cancelled and waited for; then the io_contexts stop. A second signal stops
// at once.
struct Shutdown {
    asio::io_context& io;
    workers::Supervisor& supervisor;
    std::chrono::milliseconds grace;
    std::vector<http::Server*> servers;
    bool stopping = false;

    void on_signals(asio::signal_set& signals) {
        signals.async_wait([this, &signals](boost::system::error_code ec, int signo) {
            if (ec) return;
            if (stopping) {
                log::warn("second signal, stopping now", {{"signal", signo}});
                io.stop();
                return;
            }
            stopping = true;
            log::info("shutting down",
                      {{"signal", signo}, {"grace_ms", static_cast<std::int64_t>(grace.count())}});
            auto pending = std::make_shared<std::size_t>(servers.size());
            auto drained = [this, pending] {
                if (--*pending != 0) return;
                log::info("all connections closed, stopping the background jobs");
                supervisor.stop([this] {
                    log::info("background jobs stopped, exiting");
                    io.stop();
                });
            };
            for (auto* server : servers) server->shutdown(grace, drained);
            on_signals(signals);
        });
    }
};

// The client pipeline served in process, for background jobs that compose the public API
// (Context::loopback): each request with the key its route asks, run as a coroutine of its own,
// so that the pipeline's handling of cancellation stays its own and the caller's job can still
// be stopped.
std::function<asio::awaitable<http::Response>(http::Request)> loopback(
    asio::any_io_executor executor, const http::Pipeline& pipeline, const config::Config& cfg) {
    return [executor, &pipeline, master = cfg.master_key,
            admin = cfg.effective_admin_key()](http::Request r) {
        const auto& key = r.path.starts_with("/_miroir") ? admin : master;
        if (!key.empty()) r.headers.set("Authorization", "Bearer " + key);
        return asio::co_spawn(executor, pipeline.handle(std::move(r)), asio::use_awaitable);
    };
}

// A dump uploaded to POST /_miroir/dumps/import with the admin key goes to disk as it arrives
// (dump_import.dir), whatever its size up to dump_import.max_bytes.
std::function<std::optional<http::Spool>(const http::Request&)> dump_spool(
    const http::Pipeline& pipeline, const config::Config& cfg) {
    return [&pipeline, &cfg](const http::Request& r) -> std::optional<http::Spool> {
        if (r.method != http::Method::post || r.path != "/_miroir/dumps/import") return {};
        if (!pipeline.admits_admin(r)) return {};
        try {
            const auto dir = workers::dump_directory(cfg.dump_import);
            return http::Spool{dir + "/upload-" + util::random_uuid() + ".part",
                               cfg.dump_import.max_bytes};
        } catch (const std::exception& e) {
            log::error("no directory for uploads", {{"error", e.what()}});
            return {};  // read into memory, within server.max_body_bytes
        }
    };
}

// The client pipeline's options: keys, limits, and the hooks of the Meilisearch routes.
http::PipelineOptions client_pipeline_options(const config::Config& cfg, fleet::Context& ctx) {
    http::PipelineOptions client_options;
    client_options.master_key = cfg.master_key;
    client_options.admin_key = cfg.effective_admin_key();
    client_options.max_body_bytes = cfg.server.max_body_bytes;
    client_options.compress_responses = cfg.server.compress_responses;
    client_options.check_api_key = [&ctx](http::Request& r, std::string token) {
        return meili::check_api_key(ctx, r, std::move(token));
    };
    client_options.resolve = [&ctx](http::Request& r) { meili::resolve_aliases(ctx, r); };
    client_options.explain_malformed = [&ctx](const http::Request& r) {
        return meili::node_words(ctx, r);
    };
    client_options.around_write = [&ctx](http::Request& r, const http::Handler& next) {
        return meili::around_write(ctx, r, next);
    };
    client_options.around_read = [&ctx](http::Request& r, const http::Handler& next) {
        return meili::around_read(ctx, r, next);
    };
    client_options.error_of = [](const std::exception& e) -> std::optional<http::ApiError> {
        if (!dynamic_cast<const tasks::Unavailable*>(&e)) return std::nullopt;
        return http::ApiError(503, "miroir_task_store_unavailable", http::ErrorType::system,
                              e.what());
    };
    return client_options;
}

void log_start(const config::Config& cfg, const fleet::Context& ctx, unsigned threads,
               unsigned short port, unsigned short metrics_port) {
    if (cfg.master_key.empty()) {
        log::warn("no master key configured: every Meilisearch route is open");
    }
    if (cfg.effective_admin_key().empty()) {
        log::warn("no admin key or master key configured: /_miroir routes are open");
    }
    log::info("miroir listening",
              {{"version", kVersion},
               {"address", cfg.server.bind},
               {"port", static_cast<int>(port)},
               {"metrics_port", static_cast<int>(metrics_port)},
               {"nodes", static_cast<int>(ctx.fleet()->members().size())},
               {"topology_version", static_cast<std::int64_t>(ctx.fleet()->version())},
               {"threads", static_cast<int>(threads)}});
}

}  // namespace

int App::run() {
    auto& s = *impl_;
    const auto& cfg = s.config;
    load_topology_now(s.io, s.context);

    http::Pipeline pipeline(s.router, client_pipeline_options(cfg, s.context), s.metrics);
    s.context.loopback = loopback(s.io.get_executor(), pipeline, cfg);
    http::PipelineOptions metrics_pipeline_options;
    metrics_pipeline_options.max_body_bytes = 1024;
    http::Pipeline metrics_pipeline(s.metrics_router, std::move(metrics_pipeline_options),
                                    s.metrics);

    auto options = server_options(cfg);
    options.spool = dump_spool(pipeline, cfg);
    for (unsigned i = 1; i < s.threads; ++i)
        s.workers.push_back(std::make_unique<asio::io_context>(1));
    std::vector<asio::any_io_executor> session_executors = {s.io.get_executor()};
    for (auto& w : s.workers) session_executors.push_back(w->get_executor());
    http::Server server(
        s.io.get_executor(), options,
        [&pipeline](http::Request r) { return pipeline.handle(std::move(r)); }, session_executors);
    server.start();
    std::vector<http::Server*> servers{&server};
    std::unique_ptr<http::Server> metrics_server;
    if (cfg.server.metrics_port != 0) {
        auto metrics_options = options;
        metrics_options.port = cfg.server.metrics_port;
        metrics_options.max_body_bytes = 1024;
        metrics_options.spool = nullptr;  // no uploads there
        metrics_server = std::make_unique<http::Server>(
            s.io.get_executor(), metrics_options,
            [&metrics_pipeline](http::Request r) { return metrics_pipeline.handle(std::move(r)); });
        metrics_server->start();
        servers.push_back(metrics_server.get());
    }
    log_start(cfg, s.context, s.threads, server.local_port(),
              metrics_server ? metrics_server->local_port() : 0);

    Shutdown shutdown{s.io, s.supervisor, std::chrono::milliseconds(cfg.server.shutdown_grace_ms),
                      servers};
    asio::signal_set signals(s.io, SIGINT, SIGTERM);
    shutdown.on_signals(signals);
    s.supervisor.start(workers::all_jobs(s.context));

    // the other contexts run until `io` is done (then told to stop): they may be idle meanwhile
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep;
    std::vector<std::thread> pool;
    for (auto& w : s.workers) {
        keep.push_back(asio::make_work_guard(*w));
        pool.emplace_back([&io = *w] { io.run(); });
    }
    s.io.run();
    keep.clear();
    for (auto& w : s.workers) w->stop();
    for (auto& t : pool) t.join();
    s.context.loopback = {};  // the pipeline goes with this frame
    return 0;
}

}  // namespace miroir::app
