// Small helpers of the development node: the shared request and time helpers under short names.
#pragma once

#include <nlohmann/json.hpp>

#include <miroir/http/api_error.hpp>
#include <miroir/http/message.hpp>
#include <miroir/http/params.hpp>
#include <miroir/util/time.hpp>

namespace devnode {

using json = nlohmann::ordered_json;
using miroir::http::ApiError;
using miroir::http::backquoted_list;
using miroir::http::bad_request;
using miroir::http::error;
using miroir::http::ErrorType;
using miroir::http::found_value;
using miroir::http::json_body;
using miroir::http::percent_decode;
using miroir::http::Query;
using miroir::http::respond;
using miroir::http::snake_case;
using miroir::http::split_csv;
using miroir::util::iso_duration;
using miroir::util::now;
using miroir::util::parse_date;
using miroir::util::rfc3339;
using miroir::util::Time;

}  // namespace devnode
