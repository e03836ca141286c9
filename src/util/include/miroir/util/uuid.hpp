// Random identifiers.
#pragma once

#include <string>
#include <string_view>

namespace miroir::util {

// A random UUID, version 4, in its lowercase hyphenated form.
std::string random_uuid();

// A UUID as Meilisearch reads one from a path: 32 hexadecimal digits, plain or hyphenated
// 8-4-4-4-12, optionally braced or after `urn:uuid:`, any case. `uuid` is its lowercase
// hyphenated form; when it is not one, `error` says why in the words of Rust's `uuid` crate
// ("invalid length: found 3", "invalid character: found `z` at 0", ...).
struct ParsedUuid {
    std::string uuid;
    std::string error;
};
ParsedUuid parse_uuid(std::string_view text);

}  // namespace miroir::util
