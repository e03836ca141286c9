// Anti-entropy's document hashes, bucket digests and verdicts.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <miroir/entropy/digest.hpp>
#include <miroir/routing/shard_field.hpp>

namespace miroir::entropy {
namespace {

using json = nlohmann::ordered_json;

json stored(json doc, std::uint32_t shard, std::uint64_t stamp) {
    json out = {{"_miroir_shard", routing::shard_value(shard)},
                {"_miroir_ord", routing::ord_value({stamp, 0})}};
    out.update(doc);
    return out;
}

TEST(DocumentHash, IgnoresMiroirFieldsAndKeyOrder) {
    const json a = json::parse(R"({"id":1,"t":"x","n":{"b":2,"a":[1,{"y":1,"x":2}]}})");
    const json b = json::parse(R"({"n":{"a":[1,{"x":2,"y":1}],"b":2},"t":"x","id":1})");
    EXPECT_EQ(document_hash(a), document_hash(b));
    EXPECT_EQ(document_hash(a), document_hash(stored(a, 3, 99)));
    EXPECT_NE(document_hash(a), document_hash(json::parse(R"({"id":1,"t":"y","n":{}})")));
    // array order is the document's own
    EXPECT_NE(document_hash(json::parse(R"({"a":[1,2]})")),
              document_hash(json::parse(R"({"a":[2,1]})")));
    // the expiry is the client's field
    EXPECT_NE(document_hash(json::parse(R"({"id":1})")),
              document_hash(json::parse(R"({"id":1,"_miroir_expires_at":5})")));
}

TEST(VersionOf, PlacedOnlyInItsShardWithItsPlace) {
    const auto v = version_of(stored({{"id", 1}}, 4, 1234), 4);
    EXPECT_TRUE(v.placed);
    ASSERT_TRUE(v.ord);
    EXPECT_EQ(v.ord->stamp, 1234u);
    EXPECT_FALSE(version_of(stored({{"id", 1}}, 4, 1234), 5).placed);
    const auto foreign = version_of({{"id", 1}}, 4);
    EXPECT_FALSE(foreign.placed);
    EXPECT_FALSE(foreign.ord);
}

TEST(ShardView, DigestsDoNotDependOnReadOrderAndFindTheDifference) {
    ShardView a(16), b(16);
    std::vector<std::string> ids;
    for (int i = 0; i < 200; ++i) ids.push_back("doc-" + std::to_string(i));
    for (const auto& id : ids) a.add(id, Version{std::hash<std::string>{}(id), {}, true, {}});
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
        b.add(*it, Version{std::hash<std::string>{}(*it), {}, true, {}});
    }
    EXPECT_EQ(a.digests(), b.digests());
    auto same = compare({&a, &b});
    EXPECT_EQ(same.buckets, 0u);
    EXPECT_TRUE(same.ids.empty());

    ShardView c(16);
    for (const auto& id : ids) {
        if (id == "doc-7") continue;  // missing
        auto version = Version{std::hash<std::string>{}(id), {}, true, {}};
        if (id == "doc-9") version.hash += 1;  // changed
        c.add(id, version);
    }
    c.add("doc-7", Version{std::hash<std::string>{}("doc-7"), {}, true, {}});  // read again later
    c.add("doc-9", Version{std::hash<std::string>{}("doc-9") + 1, {}, true, {}});
    const auto diff = compare({&a, &c});
    EXPECT_EQ(diff.buckets, 1u);  // doc-7 is back: only doc-9's bucket differs
    EXPECT_NE(std::find(diff.ids.begin(), diff.ids.end(), "doc-9"), diff.ids.end());
    EXPECT_EQ(std::find(diff.ids.begin(), diff.ids.end(), "doc-7"), diff.ids.end());
    // only the ids of differing buckets are read again
    EXPECT_LT(diff.ids.size(), ids.size() / 4);
}

Version at(std::uint64_t hash, std::uint64_t stamp) {
    return {hash, routing::Ord{stamp, 0}, true, {}};
}

TEST(Decide, AnExpiredDocumentIsDeletedNotCopied) {
    auto expiring = at(1, 10);
    expiring.expires = 100;
    auto v = decide({{0, true, expiring}, {1, true, std::nullopt}, {2, true, at(2, 5)}}, 100);
    EXPECT_TRUE(v.write.empty());
    EXPECT_EQ(v.remove, (std::vector<std::size_t>{0, 2}));
    v = decide({{0, true, expiring}, {1, true, std::nullopt}}, 99);  // not yet expired
    EXPECT_EQ(v.write, (std::vector<std::size_t>{1}));
}

TEST(Decide, AMissingOrOlderCopyGetsTheNewest) {
    auto v = decide({{0, true, at(1, 10)}, {1, true, std::nullopt}, {2, true, at(2, 5)}}, 0);
    ASSERT_TRUE(v.source);
    EXPECT_EQ(*v.source, 0u);
    EXPECT_EQ(v.write, (std::vector<std::size_t>{1, 2}));
    EXPECT_TRUE(v.remove.empty());
}

TEST(Decide, EqualPlacesGoToTheMajorityThenTheFirstOwner) {
    auto v = decide({{0, true, at(1, 10)}, {1, true, at(2, 10)}, {2, true, at(2, 10)}}, 0);
    EXPECT_EQ(v.source, 1u);
    EXPECT_EQ(v.write, (std::vector<std::size_t>{0}));
    v = decide({{0, true, at(1, 10)}, {1, true, at(2, 10)}}, 0);
    EXPECT_EQ(v.source, 0u);
    EXPECT_EQ(v.write, (std::vector<std::size_t>{1}));
}

TEST(Decide, AgreementDoesNothing) {
    EXPECT_TRUE(decide({{0, true, at(1, 10)}, {1, true, at(1, 10)}}, 0).agreed());
    EXPECT_TRUE(decide({{0, true, std::nullopt}, {1, true, std::nullopt}}, 0).agreed());
}

TEST(Decide, CopiesOutsideTheOwnersAndUnroutedWritesAreDeleted) {
    // a copy on a node that does not own the shard
    auto v = decide({{0, true, at(1, 10)}, {1, true, at(1, 10)}, {5, false, at(1, 10)}}, 0);
    EXPECT_EQ(v.remove, (std::vector<std::size_t>{5}));
    EXPECT_TRUE(v.write.empty());
    // written to one node directly: no shard, no place
    v = decide({{0, true, Version{7, std::nullopt, false, {}}}, {1, true, std::nullopt}}, 0);
    EXPECT_EQ(v.remove, (std::vector<std::size_t>{0}));
    EXPECT_TRUE(v.write.empty());
    // overwritten on one node directly: the owners' copy wins back
    v = decide({{0, true, Version{7, std::nullopt, false, {}}}, {1, true, at(3, 10)}}, 0);
    EXPECT_EQ(v.source, 1u);
    EXPECT_EQ(v.write, (std::vector<std::size_t>{0}));
    EXPECT_TRUE(v.remove.empty());
}

}  // namespace
}  // namespace miroir::entropy
