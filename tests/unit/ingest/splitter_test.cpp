// The payload splitter: slices, ids, primary-key inference and every payload error.
#include <algorithm>
#include <cctype>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <miroir/ingest/splitter.hpp>

namespace miroir::ingest {
namespace {

Split run(std::string body, Format format = Format::json,
          std::optional<std::string> pk = std::string("id"), char delimiter = ',') {
    static std::string keep;  // slices point into the body
    keep = std::move(body);
    return split(keep, {format, delimiter, std::move(pk)});
}

std::vector<std::string> ids(const Split& s) {
    std::vector<std::string> out;
    for (const auto& d : s.documents) out.push_back(d.id);
    return out;
}

TEST(Splitter, JsonArrayGivesRawSlicesAndCanonicalIds) {
    const auto s = run(R"( [ {"id": 1, "t": "a"} , {"t": [1, {"x": null}], "id": "b-2"},
                           {"id": -5} ] )");
    ASSERT_FALSE(s.failure) << s.failure->message;
    EXPECT_EQ(ids(s), (std::vector<std::string>{"1", "b-2", "-5"}));
    EXPECT_EQ(s.documents[0].text, R"({"id": 1, "t": "a"})");
    EXPECT_EQ(s.documents[1].text, R"({"t": [1, {"x": null}], "id": "b-2"})");
    EXPECT_EQ(s.documents[2].text, R"({"id": -5})");
}

TEST(Splitter, SingleObjectIsOneDocument) {
    const auto s = run(R"({"id": "x", "n": 1.5}
)");
    ASSERT_FALSE(s.failure);
    ASSERT_EQ(s.documents.size(), 1u);
    EXPECT_EQ(s.documents[0].text, R"({"id": "x", "n": 1.5})");
}

TEST(Splitter, InjectedPayloadIsValidJsonWithTheShardFirst) {
    const auto s = run(R"([{"id": 1, "t": "a"}, {"id": 2}])");
    std::string out = "[";
    append_json(out, s.documents[0], 7);
    append_json(out, s.documents[1], 12);
    out += "]";
    const auto parsed = nlohmann::json::parse(out);
    EXPECT_EQ(parsed[0]["_miroir_shard"], routing::shard_value(7));
    EXPECT_EQ(parsed[0]["t"], "a");
    EXPECT_EQ(parsed[1]["_miroir_shard"], routing::shard_value(12));
    EXPECT_EQ(parsed[1]["id"], 2);
    EXPECT_FALSE(parsed[0].contains("_miroir_ord"));
}

TEST(Splitter, InjectedPayloadCarriesThePlaceSecond) {
    const auto s = run(R"([{"id": 1, "t": "a"}])");
    const auto place = routing::ord_value({1796000000000000, 3});
    std::string out = "[";
    append_json(out, s.documents[0], 7, place);
    out += "]";
    const auto parsed = nlohmann::ordered_json::parse(out);
    EXPECT_EQ(parsed[0].begin().key(), "_miroir_shard");
    EXPECT_EQ(parsed[0]["_miroir_ord"], place);
    EXPECT_EQ(parsed[0]["t"], "a");
}

TEST(Splitter, NdjsonSkipsBlankLines) {
    const auto s =
        run("{\"id\": 1}\r\n\n  {\"id\": \"two\", \"a\": {\"b\": [true]}}\n", Format::ndjson);
    ASSERT_FALSE(s.failure) << s.failure->message;
    EXPECT_EQ(ids(s), (std::vector<std::string>{"1", "two"}));
    EXPECT_EQ(s.documents[1].text, R"({"id": "two", "a": {"b": [true]}})");
}

TEST(Splitter, EmptyPayloadIsMissingPayload) {
    for (auto format : {Format::json, Format::ndjson, Format::csv}) {
        const auto s = run(" \n", format);
        ASSERT_TRUE(s.failure);
        EXPECT_EQ(s.failure->code, "missing_payload");
        EXPECT_TRUE(s.failure->synchronous);
    }
}

TEST(Splitter, EmptyArraySucceedsWithoutDocuments) {
    const auto s = run("[]", Format::json, std::nullopt);
    EXPECT_FALSE(s.failure);
    EXPECT_TRUE(s.documents.empty());
    EXPECT_EQ(s.primary_key, "");
}

TEST(Splitter, MalformedPayloadsAreSynchronous) {
    for (const char* body : {R"([{"id": 1},)", R"([{"id": 1} {"id": 2}])", R"({"id": 1} x)",
                             R"([{"id": 1, "a": tru}])", R"([{"id": 1, "a": "\q"}])", "42",
                             R"([1, 2])", R"([{"id": 1}, "x"])"}) {
        const auto s = run(body);
        ASSERT_TRUE(s.failure) << body;
        EXPECT_EQ(s.failure->code, "malformed_payload") << body;
        EXPECT_TRUE(s.failure->synchronous) << body;
        EXPECT_TRUE(s.documents.empty());
    }
    const auto nd = run("{\"id\": 1}\n{\"id\": \n", Format::ndjson);
    ASSERT_TRUE(nd.failure);
    EXPECT_EQ(nd.failure->code, "malformed_payload");
    EXPECT_NE(nd.failure->message.find("`ndjson`"), std::string::npos);
}

TEST(Splitter, MalformedWinsOverAnEarlierBadId) {
    const auto s = run(R"([{"id": 1.5}, {"id": ])");
    ASSERT_TRUE(s.failure);
    EXPECT_EQ(s.failure->code, "malformed_payload");
}

TEST(Splitter, InvalidIdsFailTheTask) {
    for (const char* body :
         {R"([{"id": 1.5}])", R"([{"id": "a b"}])", R"([{"id": true}])", R"([{"id": null}])",
          R"([{"id": ""}])", R"([{"id": [1]}])", R"([{"id": {"a": 1}}])"}) {
        const auto s = run(body);
        ASSERT_TRUE(s.failure) << body;
        EXPECT_EQ(s.failure->code, "invalid_document_id") << body;
        EXPECT_FALSE(s.failure->synchronous);
        EXPECT_TRUE(s.documents.empty());
    }
    const auto s = run(R"([{"id": "foo & bar"}])");
    EXPECT_NE(s.failure->message.find(R"(`"foo & bar"`)"), std::string::npos) << s.failure->message;
    const auto longest = run("[{\"id\": \"" + std::string(511, 'a') + "\"}]");
    EXPECT_FALSE(longest.failure);
    const auto too_long = run("[{\"id\": \"" + std::string(512, 'a') + "\"}]");
    EXPECT_TRUE(too_long.failure);
}

TEST(Splitter, MissingIdNamesTheKeyAndDocument) {
    const auto s = run(R"([{"id": 1}, {"name": "x"}])");
    ASSERT_TRUE(s.failure);
    EXPECT_EQ(s.failure->code, "missing_document_id");
    EXPECT_EQ(s.failure->message, R"(Document doesn't have a `id` attribute: `{"name": "x"}`.)");
}

TEST(Splitter, ReservedFieldsAreRejected) {
    const auto s = run(R"([{"id": 1, "_miroir_shard": 3}])");
    ASSERT_TRUE(s.failure);
    EXPECT_EQ(s.failure->code, "miroir_reserved_field");
    EXPECT_TRUE(s.failure->synchronous);
    // nested fields are the client's own
    EXPECT_FALSE(run(R"([{"id": 1, "a": {"_miroir_x": 3}}])").failure);
    const auto csv = run("id,_miroir_shard\n1,2\n", Format::csv);
    ASSERT_TRUE(csv.failure);
    EXPECT_EQ(csv.failure->code, "miroir_reserved_field");
}

TEST(Splitter, ExpiriesAreReadAndSentAsUnixSeconds) {
    const auto s = run(R"([{"id": 1, "_miroir_expires_at": "2026-12-31T23:00:00.5Z", "t": "a"},
                           {"_miroir_expires_at" : 1798758000.9 , "id": 2},
                           {"id": 3, "t": "b"}])");
    ASSERT_FALSE(s.failure) << s.failure->message;
    EXPECT_EQ(s.documents[0].expires, 1798758000);
    EXPECT_EQ(s.documents[1].expires, 1798758000);
    EXPECT_FALSE(s.documents[2].expires);
    std::string out = "[";
    for (const auto& d : s.documents) append_json(out, d, 7, {}, 1700000000);
    out += "]";
    const auto parsed = nlohmann::json::parse(out);
    EXPECT_EQ(parsed[0]["_miroir_expires_at"], 1798758000);
    EXPECT_EQ(parsed[0]["t"], "a");
    EXPECT_EQ(parsed[1]["_miroir_expires_at"], 1798758000);
    EXPECT_EQ(parsed[1]["id"], 2);
    EXPECT_EQ(parsed[2]["_miroir_expires_at"], 1700000000);  // the default
    EXPECT_EQ(parsed[2]["t"], "b");
}

TEST(Splitter, BadExpiriesRefuseThePayload) {
    for (const char* bad :
         {R"("soon")", "-1", "true", "null", R"({"at": 1})", "[1]", R"("1798758000")", "1e13"}) {
        const auto s =
            run(std::string(R"([{"id": 1}, {"id": 2, "_miroir_expires_at": )") + bad + "}]");
        ASSERT_TRUE(s.failure) << bad;
        EXPECT_EQ(s.failure->code, "miroir_invalid_expires_at") << bad;
        EXPECT_TRUE(s.failure->synchronous);
        EXPECT_TRUE(s.documents.empty());
    }
    const auto twice = run(R"([{"id": 1, "_miroir_expires_at": 5, "_miroir_expires_at": 6}])");
    ASSERT_TRUE(twice.failure);
    EXPECT_EQ(twice.failure->code, "miroir_invalid_expires_at");
    const auto csv = run("id,_miroir_expires_at\n1,2\n", Format::csv);
    ASSERT_TRUE(csv.failure);
    EXPECT_EQ(csv.failure->code, "miroir_invalid_expires_at");
}

TEST(Splitter, CsvGetsTheDefaultExpiryAsANumberColumn) {
    const auto s = run("id,t\n1,a\n", Format::csv);
    ASSERT_FALSE(s.failure);
    std::string out;
    begin_csv(out, s.csv_header, ',', true, true);
    append_csv(out, s.documents[0], 3, ',', "o", 1700000000);
    EXPECT_EQ(out, "id,t,\"_miroir_shard\",\"_miroir_ord\",\"_miroir_expires_at:number\"\n1,a,\"" +
                       routing::shard_value(3) + "\",\"o\",\"1700000000\"\n");
}

TEST(Splitter, InfersThePrimaryKeyFromTheFirstDocument) {
    const auto s =
        run(R"([{"title": "a", "productId": 3}, {"productId": "x"}])", Format::json, std::nullopt);
    ASSERT_FALSE(s.failure) << s.failure->message;
    EXPECT_EQ(s.primary_key, "productId");
    EXPECT_EQ(ids(s), (std::vector<std::string>{"3", "x"}));

    const auto none = run(R"([{"title": "a"}])", Format::json, std::nullopt);
    ASSERT_TRUE(none.failure);
    EXPECT_EQ(none.failure->code, "index_primary_key_no_candidate_found");

    const auto many =
        run(R"([{"object_id": 1, "id": 2, "uuid": "x"}])", Format::json, std::nullopt);
    ASSERT_TRUE(many.failure);
    EXPECT_EQ(many.failure->code, "index_primary_key_multiple_candidates_found");
    EXPECT_NE(many.failure->message.find("found 3 fields ending with `id` in their names: 'id' "
                                         "and 'object_id'"),
              std::string::npos)
        << many.failure->message;
}

TEST(Splitter, DottedPrimaryKey) {
    const auto s = run(R"([{"a": {"b": 4}}, {"a.b": "x"}])", Format::json, std::string("a.b"));
    ASSERT_FALSE(s.failure) << s.failure->message;
    EXPECT_EQ(ids(s), (std::vector<std::string>{"4", "x"}));
    const auto both = run(R"([{"a": {"b": 4}, "a.b": 5}])", Format::json, std::string("a.b"));
    ASSERT_TRUE(both.failure);
    EXPECT_EQ(both.failure->code, "invalid_document_id");
}

TEST(Splitter, CsvRecordsWithQuotedCells) {
    const auto s = run("id:number,title,tags\r\n1,\"a, \"\"b\"\"\",x\n\n007,\"multi\nline\",y\n",
                       Format::csv, std::nullopt);
    ASSERT_FALSE(s.failure) << s.failure->message;
    EXPECT_EQ(s.primary_key, "id");
    EXPECT_EQ(s.csv_header, "id:number,title,tags");
    EXPECT_EQ(ids(s), (std::vector<std::string>{"1", "7"}));
    EXPECT_EQ(s.documents[0].text, "1,\"a, \"\"b\"\"\",x");

    std::string out;
    begin_csv(out, s.csv_header, ',');
    append_csv(out, s.documents[0], 5, ',');
    EXPECT_EQ(out, "id:number,title,tags,\"_miroir_shard\"\n1,\"a, \"\"b\"\"\",x,\"}\"\n");

    out.clear();
    begin_csv(out, s.csv_header, ',', true);
    append_csv(out, s.documents[0], 5, ',', "()");
    EXPECT_EQ(out,
              "id:number,title,tags,\"_miroir_shard\",\"_miroir_ord\"\n1,\"a, "
              "\"\"b\"\"\",x,\"}\",\"()\"\n");
}

TEST(Splitter, CsvWithDelimiterAndStringIds) {
    const auto s = run("sku;name\nab-1;x\n\"cd_2\";y\n", Format::csv, std::string("sku"), ';');
    ASSERT_FALSE(s.failure) << s.failure->message;
    EXPECT_EQ(ids(s), (std::vector<std::string>{"ab-1", "cd_2"}));
}

// Records are cut as Meilisearch's reader (the csv crate) cuts them: a quote inside an unquoted
// cell is a byte of it and opens nothing, a lone \r ends a record, text may follow a closing
// quote. A document cut otherwise would be routed by the wrong id.
TEST(Splitter, CsvQuotesOpenOnlyAtTheStartOfACell) {
    const auto s = run("id,t\n1,a\"b\n2,x\"\r3,\"q\"r\r\n", Format::csv);
    ASSERT_FALSE(s.failure) << s.failure->message;
    EXPECT_EQ(ids(s), (std::vector<std::string>{"1", "2", "3"}));
    EXPECT_EQ(s.documents[1].text, "2,x\"");
    EXPECT_EQ(s.documents[2].text, "3,\"q\"r");
}

// A payload that ends inside a quoted cell: the cell ends there, and the record sent on closes
// it, so that Miroir's cells are not read into the quote.
TEST(Splitter, CsvQuoteOpenAtTheEndIsClosedWhenSentOn) {
    const auto s = run("id,t\n1,\"open", Format::csv);
    ASSERT_FALSE(s.failure) << s.failure->message;
    ASSERT_EQ(ids(s), (std::vector<std::string>{"1"}));
    std::string out;
    begin_csv(out, s.csv_header, ',');
    append_csv(out, s.documents[0], 5, ',');
    EXPECT_EQ(out, "id,t,\"_miroir_shard\"\n1,\"open\",\"}\"\n");
}

// Any ASCII character may delimit cells, a letter or a digit too: Miroir's own cells are quoted,
// so that the delimiter cannot cut them.
TEST(Splitter, CsvDelimiterMayBeALetterOrADigit) {
    const auto s = run("idstsn:number\n1sxs10\n", Format::csv, std::string("id"), 's');
    ASSERT_FALSE(s.failure) << s.failure->message;
    ASSERT_EQ(ids(s), (std::vector<std::string>{"1"}));
    std::string out;
    begin_csv(out, s.csv_header, 's', true, true);
    append_csv(out, s.documents[0], 5, 's', "()", 1800000000);
    EXPECT_EQ(out,
              "idstsn:numbers\"_miroir_shard\"s\"_miroir_ord\"s\"_miroir_expires_at:number\"\n"
              "1sxs10s\"}\"s\"()\"s\"1800000000\"\n");
}

// Nesting as deep as Meilisearch's reader takes is kept; deeper is a malformed payload, not a
// crash (the walk over a document's values recurses).
TEST(Splitter, DeepNestingIsRefusedNotFollowed) {
    const auto nested = [](int depth) {
        return "[{\"id\":1,\"v\":" + std::string(depth, '[') + std::string(depth, ']') + "}]";
    };
    EXPECT_FALSE(run(nested(100)).failure);
    for (const auto format : {Format::json, Format::ndjson}) {
        const auto text = nested(100000);
        const auto deep =
            run(format == Format::json ? text : text.substr(1, text.size() - 2), format);
        ASSERT_TRUE(deep.failure);
        EXPECT_EQ(deep.failure->code, "malformed_payload");
    }
}

std::string failure_code(const Split& s) { return s.failure ? s.failure->code : "none"; }

TEST(Splitter, CsvErrors) {
    EXPECT_EQ(failure_code(run("id,a\n1,2,3\n", Format::csv)), "malformed_payload");
    EXPECT_EQ(failure_code(run("id,n:number\n1,abc\n", Format::csv)), "malformed_payload");
    EXPECT_EQ(failure_code(run("id,b:boolean\n1,yes\n", Format::csv)), "malformed_payload");
    EXPECT_EQ(failure_code(run("id:number\n1.5\n", Format::csv)), "invalid_document_id");
    EXPECT_EQ(failure_code(run("id\na b\n", Format::csv)), "invalid_document_id");
    EXPECT_EQ(failure_code(run("id\n\"\"\n", Format::csv)), "invalid_document_id");
    EXPECT_EQ(failure_code(run("name\nx\n", Format::csv)), "missing_document_id");
}

}  // namespace
}  // namespace miroir::ingest
