// The copy of the nodes' API keys requests are checked against.
#include <miroir/fleet/keys.hpp>
#include <miroir/http/api_keys.hpp>

namespace miroir::fleet {

std::string KeyRing::value_of(const std::string& uid) const {
    return http::derive_key(master_key_, uid);
}

std::optional<KnownKey> KeyRing::find(const std::string& value) const {
    std::lock_guard lock(mutex_);
    const auto it = by_value_.find(value);
    if (it == by_value_.end()) return std::nullopt;
    return it->second;
}

void KeyRing::replace(const std::vector<KnownKey>& keys) {
    std::unordered_map<std::string, KnownKey> fresh;
    for (const auto& k : keys) fresh.emplace(value_of(k.uid), k);
    std::lock_guard lock(mutex_);
    by_value_ = std::move(fresh);
    loaded_ = true;
}

void KeyRing::put(KnownKey key) {
    auto value = value_of(key.uid);
    std::lock_guard lock(mutex_);
    by_value_.insert_or_assign(std::move(value), std::move(key));
}

void KeyRing::erase(const std::string& uid) {
    const auto value = value_of(uid);
    std::lock_guard lock(mutex_);
    by_value_.erase(value);
}

bool KeyRing::claim_reload(std::chrono::milliseconds age) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (loaded_ && now - loaded_at_ < age) return false;
    loaded_at_ = now;
    loaded_ = true;
    return true;
}

}  // namespace miroir::fleet
