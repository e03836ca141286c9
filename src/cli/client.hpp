// What the operator subcommands share: their options, one admin API request over a plain
// synchronous Beast client, and Miroir's errors (client.cpp).
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

namespace miroir::cli {

namespace bhttp = boost::beast::http;
using json = nlohmann::ordered_json;

struct Options {
    std::string url;
    std::string admin_key;
    std::optional<std::string> index;
    bool counts_only = false;
    bool as_json = false;
    std::vector<std::string> positional;
    std::optional<std::string> group;
    bool wait = false;
    bool execute = false;
    std::optional<std::string> key;
    bool replace = false;
    // miroir reshard: --new-shards, --throttle, --retain-hours (as given)
    std::optional<std::string> new_shards, throttle, retain_hours;
};

// The flags a command takes beyond the connection's and --json.
struct Accepts {
    bool verify = false;   // --index, --counts-only
    bool index = false;    // --index
    bool group = false;    // --group
    bool wait = false;     // --wait
    bool explain = false;  // --execute, --key
    bool replace = false;  // --replace
    bool reshard = false;  // --new-shards, --throttle, --retain-hours
    std::size_t positional = 0;
    std::size_t optional = 0;  // positional arguments that may be left out
};

struct UsageError {
    std::string message;
};

struct Answer {
    unsigned status = 0;
    json body;
};

// The options of a command, from its arguments, the environment and the configuration file.
Options parse(const std::vector<std::string>& args, Accepts accepts);

// One request to Miroir; throws std::runtime_error when it cannot be reached.
Answer send(const Options& o, bhttp::verb method, const std::string& target,
            const std::string& body = "");
Answer get(const Options& o, const std::string& target);
// A POST whose body is the file at `path`, streamed from disk.
Answer send_file(const Options& o, const std::string& target, const std::string& path,
                 const std::string& content_type);

// A value as text: a string as it is, anything else as JSON.
std::string text(const json& v);
// Miroir's error message, or what it answered when that is not an error object.
std::runtime_error failure(const Answer& a);

// The commands of jobs.cpp: miroir aliases, miroir anti-entropy, miroir ilm.
int aliases(const std::string& action, const std::vector<std::string>& args);
int anti_entropy(const std::string& action, const std::vector<std::string>& args);
int ilm(const std::string& action, const std::vector<std::string>& args);
// miroir import-dump FILE (dumps.cpp).
int import_dump(const std::vector<std::string>& args);
// miroir reshard [status|rollback] --index UID ...
int reshard(const std::vector<std::string>& args);

}  // namespace miroir::cli
