// Meilisearch's rules for API keys: how a key's value follows from its uid and the master key,
// and what its actions and index patterns grant.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <miroir/util/patterns.hpp>

namespace miroir::http {

// lowercase_hex(HMAC-SHA256(master key, uid)): the same uid under the same master key gives the
// same key value on every instance.
std::string derive_key(std::string_view master_key, std::string_view uid);

// Whether a key holding `granted` (as stored: `*`, `*.get`, `documents.*`, `search`...) may
// perform `action` (a plain action such as `documents.add`). `*` grants everything, `*.get`
// every read (search and version included, keys.get excluded), `family.*` its family.
bool action_allows(const std::vector<std::string>& granted, std::string_view action);

using util::index_allows;

// A secret (an API key, a token) as Meilisearch shows it: its first characters (none under 10
// bytes, 2 under 20, 3 under 30, else 5, never cutting a character), then X's: "abXXXX...".
std::string hide_secret(std::string_view secret);

}  // namespace miroir::http
