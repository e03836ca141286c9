// miroir: arguments → configuration → App::run (or one of the operator subcommands).
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <miroir/app/app.hpp>
#include <miroir/cli/cli.hpp>
#include <miroir/config/config.hpp>
#include <miroir/log/log.hpp>
#include <miroir/version.hpp>

namespace {

constexpr const char* kUsage = R"(Usage:
  miroir [serve] [--config FILE] [--log-format text|json] [--log-level LEVEL]
  miroir check-config [--config FILE]
  miroir status | nodes list | verify [...]   operator commands (miroir status --help)
  miroir --version
  miroir --help

Options:
  --config FILE        configuration file (default: $MIROIR_CONFIG, else ./miroir.yaml)
  --log-format FORMAT  text (default) or json; overrides miroir.log.format
  --log-level LEVEL    debug, info (default), warn or error; overrides miroir.log.level
)";

struct Args {
    std::string command = "serve";
    std::string config_path;
    std::optional<std::string> log_format;
    std::optional<std::string> log_level;
};

[[noreturn]] void usage_error(const std::string& message) {
    std::cerr << "miroir: " << message << "\n\n" << kUsage;
    std::exit(2);
}

Args parse_args(int argc, char** argv) {
    Args args;
    const char* env_config = std::getenv("MIROIR_CONFIG");
    args.config_path = env_config && *env_config ? env_config : "miroir.yaml";
    std::vector<std::string> rest(argv + 1, argv + argc);
    std::size_t i = 0;
    if (i < rest.size() && !rest[i].starts_with("-")) args.command = rest[i++];
    for (; i < rest.size(); ++i) {
        const auto& a = rest[i];
        auto value = [&](const char* name) -> std::string {
            const std::string prefix = std::string(name) + "=";
            if (a.starts_with(prefix)) return a.substr(prefix.size());
            if (i + 1 >= rest.size()) usage_error(std::string(name) + " needs a value");
            return rest[++i];
        };
        if (a == "--help" || a == "-h") {
            std::cout << kUsage;
            std::exit(0);
        } else if (a == "--version" || a == "-V") {
            args.command = "version";
        } else if (a.starts_with("--config")) {
            args.config_path = value("--config");
        } else if (a.starts_with("--log-format")) {
            args.log_format = value("--log-format");
        } else if (a.starts_with("--log-level")) {
            args.log_level = value("--log-level");
        } else {
            usage_error("unknown argument `" + a + "`");
        }
    }
    return args;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && miroir::cli::is_operator_command(argv[1])) {
        return miroir::cli::run(argv[1], std::vector<std::string>(argv + 2, argv + argc));
    }
    const Args args = parse_args(argc, argv);

    if (args.command == "version") {
        std::cout << "miroir " << miroir::kVersion << " (" << miroir::kCommitSha
                  << ", Meilisearch API " << miroir::kMeilisearchApiVersion << ")\n";
        return 0;
    }
    if (args.command != "serve" && args.command != "check-config") {
        usage_error("unknown command `" + args.command + "`");
    }

    miroir::config::Config config;
    try {
        config = miroir::config::load_file(args.config_path);
        if (args.log_format) config.log.format = *args.log_format;
        if (args.log_level) config.log.level = *args.log_level;
        miroir::config::validate(config);
    } catch (const miroir::config::ConfigError& e) {
        std::cerr << "miroir: invalid configuration (" << args.config_path << "): " << e.what()
                  << "\n";
        return 2;
    }

    if (args.command == "check-config") {
        for (const auto& key : config.unknown_keys) {
            std::cerr << "miroir: warning: unknown configuration key `" << key << "`\n";
        }
        std::cout << miroir::config::to_yaml(config);
        return 0;
    }

    miroir::log::Format format{};
    miroir::log::Level level{};
    miroir::log::parse_format(config.log.format, format);
    miroir::log::parse_level(config.log.level, level);
    miroir::log::init(format, level);
    for (const auto& key : config.unknown_keys) {
        miroir::log::warn("unknown configuration key", {{"key", key}});
    }

    try {
        miroir::app::App app(std::move(config));
        return app.run();
    } catch (const std::exception& e) {
        miroir::log::error("cannot start", {{"error", e.what()}});
        return 1;
    }
}
