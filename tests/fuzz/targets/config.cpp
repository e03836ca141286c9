// The configuration loader: miroir.yaml read, validated, and written back (`miroir config`).
// Input: a YAML document. Any error other than ConfigError (which names the field) is a bug:
// the operator would get a raw parser message instead of the setting that is wrong.
#include <cstddef>
#include <cstdint>
#include <string>

#include <miroir/config/config.hpp>

namespace {

const char* no_env(const char*) { return nullptr; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const auto config = miroir::config::parse(text, no_env);
        // what Miroir writes back is a configuration it reads
        miroir::config::parse(miroir::config::to_yaml(config), no_env);
    } catch (const miroir::config::ConfigError&) {
    }
    return 0;
}
