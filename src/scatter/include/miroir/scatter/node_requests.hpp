// What other layers (the admin routes) share with the api layer to address the nodes: an
// index's path, a node request, Meilisearch's rule for index uids.
#pragma once

#include <string>

#include <miroir/http/message.hpp>
#include <miroir/upstream/node_client.hpp>

namespace miroir::scatter {

// Throws invalid_index_uid unless `uid` is a valid Meilisearch index uid.
void check_index_uid(const std::string& uid);
// "/indexes/<uid>", percent-encoded.
std::string index_path(const std::string& uid);
upstream::UpstreamRequest node_request(http::Method method, std::string target,
                                       std::string body = {},
                                       std::string content_type = "application/json");

}  // namespace miroir::scatter
