// App: the composition root — builds every layer from the configuration, runs the
// io_context on a thread pool, and shuts down on SIGTERM/SIGINT.
#pragma once

#include <memory>

#include <miroir/config/config.hpp>

namespace miroir::app {

class App {
  public:
    explicit App(config::Config config);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    // Serves until SIGTERM or SIGINT, then drains; returns the process exit code.
    // Throws std::system_error when a listener cannot bind.
    int run();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace miroir::app
