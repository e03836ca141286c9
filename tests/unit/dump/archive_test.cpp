// Reading Meilisearch dumps: the manifest whatever the entry order, documents in pieces of
// whole lines, the errors of a file that is not a version 6 dump, and multipart bodies.
#include <archive.h>
#include <archive_entry.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <miroir/dump/archive.hpp>

namespace {

using miroir::dump::DocumentReader;
using miroir::dump::Error;
using miroir::dump::Range;
using Files = std::vector<std::pair<std::string, std::string>>;

const std::string kKeyA = "0b0c7e1a-3d2f-4c5b-8a9e-1f2e3d4c5b6a";
const std::string kKeyB = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";
const std::string kMeta = R"({"dumpVersion":"V6","dbVersion":"1.50.0","dumpDate":"2026"})";

// A gzip'd tar of `files`, in their order.
std::string tar_gz(const Files& files) {
    std::vector<char> out(1 << 20);
    std::size_t used = 0;
    archive* a = archive_write_new();
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    archive_write_open_memory(a, out.data(), out.size(), &used);
    for (const auto& [name, data] : files) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, name.c_str());
        archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_write_header(a, e);
        archive_write_data(a, data.data(), data.size());
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return std::string(out.data(), used);
}

class File {
  public:
    explicit File(const std::string& data)
        : path_((std::filesystem::temp_directory_path() /
                 ("miroir-dump-test-" + std::to_string(++count_)))
                    .string()) {
        std::ofstream(path_, std::ios::binary) << data;
    }
    ~File() { std::filesystem::remove(path_); }
    const std::string& path() const { return path_; }
    Range all() const { return {0, std::filesystem::file_size(path_)}; }

  private:
    static inline int count_ = 0;
    std::string path_;
};

std::string code_of(const std::string& data) {
    const File f(data);
    try {
        miroir::dump::read_manifest(f.path(), f.all());
    } catch (const Error& e) {
        return e.code();
    }
    return "none";
}

TEST(DumpArchive, ManifestInAnyEntryOrder) {
    const File f(
        tar_gz({{"./indexes/movies/documents.jsonl", "{\"id\":1}\n"},
                {"./indexes/movies/settings.json", R"({"synonyms":{}})"},
                {"./keys.jsonl", "{\"uid\":\"" + kKeyA + "\"}\n\n{\"uid\":\"" + kKeyB + "\"}\n"},
                {"./indexes/movies/metadata.json", R"({"uid":"movies","primaryKey":"id"})"},
                {"./experimental-features.json", R"({"metrics":true})"},
                {"./metadata.json", kMeta}}));
    std::uint64_t seen = 0;
    const auto m = miroir::dump::read_manifest(f.path(), f.all(), [&](auto at) { seen = at; });
    EXPECT_EQ(m.dump_version, "V6");
    EXPECT_EQ(m.db_version, "1.50.0");
    ASSERT_EQ(m.keys.size(), 2u);
    EXPECT_EQ(m.keys[1]["uid"], kKeyB);
    ASSERT_EQ(m.indexes.size(), 1u);
    EXPECT_EQ(m.indexes.at("movies").metadata["primaryKey"], "id");
    EXPECT_TRUE(m.indexes.at("movies").settings.contains("synonyms"));
    EXPECT_TRUE(m.indexes.at("movies").has_documents);
    EXPECT_EQ(m.features["metrics"], true);
    EXPECT_EQ(seen, f.all().end);
}

TEST(DumpArchive, DocumentsInPiecesOfWholeLines) {
    std::string many;
    for (int i = 0; i < 100; ++i) many += "{\"id\":" + std::to_string(i) + "}\n\n";
    const File f(tar_gz({{"metadata.json", kMeta},
                         {"indexes/a/documents.jsonl", many},
                         {"indexes/b/documents.jsonl", "{\"id\":\"x\"}\n{\"id\":\"y\"}"}}));
    DocumentReader reader(f.path(), f.all(), 64);
    std::uint64_t a_lines = 0;
    std::vector<std::string> b;
    while (auto piece = reader.next()) {
        EXPECT_EQ(piece->lines.back(), '\n');
        if (piece->index == "a") {
            EXPECT_EQ(piece->first, a_lines);  // numbered without the empty lines
            a_lines += piece->count;
            EXPECT_EQ(piece->lines.find("\n\n"), std::string::npos);
        } else {
            b.push_back(piece->lines);
        }
    }
    EXPECT_EQ(a_lines, 100u);
    EXPECT_EQ(b, std::vector<std::string>{"{\"id\":\"x\"}\n{\"id\":\"y\"}\n"});
}

TEST(DumpArchive, WhatIsNotAVersion6DumpIsRefused) {
    EXPECT_EQ(code_of(tar_gz({{"hello.txt", "hi"}})), "miroir_invalid_dump");
    EXPECT_EQ(code_of(tar_gz({{"metadata.json", R"({"dumpVersion":"V5"})"}})),
              "miroir_unsupported_dump_version");
    EXPECT_EQ(code_of(tar_gz({{"metadata.json", kMeta}, {"indexes/x/settings.json", "{}"}})),
              "miroir_invalid_dump");  // an index without its metadata
    EXPECT_EQ(code_of(tar_gz({{"metadata.json", "{not json"}})), "miroir_invalid_dump");
    // uids that would not stay one path segment
    EXPECT_EQ(code_of(tar_gz(
                  {{"metadata.json", kMeta}, {"indexes/a?x/metadata.json", R"({"uid":"a?x"})"}})),
              "miroir_invalid_dump");
    EXPECT_EQ(code_of(tar_gz({{"metadata.json", kMeta}, {"keys.jsonl", R"({"uid":"../x"})"}})),
              "miroir_invalid_dump");
    EXPECT_EQ(code_of("plain text"), "miroir_invalid_dump");
    std::string big;
    for (int i = 0; i < 20000; ++i) big += "{\"id\":" + std::to_string(i * 7919) + "}\n";
    const auto whole = tar_gz({{"indexes/a/documents.jsonl", big},
                               {"indexes/a/metadata.json", R"({"uid":"a"})"},
                               {"metadata.json", kMeta}});
    EXPECT_EQ(code_of(whole.substr(0, whole.size() / 2)), "miroir_invalid_dump");  // truncated
    EXPECT_EQ(code_of(whole), "none");
}

TEST(DumpArchive, MultipartFilePart) {
    EXPECT_EQ(miroir::dump::multipart_boundary("multipart/form-data; boundary=\"ab c\""), "ab c");
    EXPECT_EQ(miroir::dump::multipart_boundary("Multipart/Form-Data;boundary=xyz"), "xyz");
    EXPECT_FALSE(miroir::dump::multipart_boundary("application/gzip"));
    const std::string archive = tar_gz({{"metadata.json", kMeta}});
    const std::string body =
        "--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n"
        "--B\r\nContent-Disposition: form-data; name=\"f\"; "
        "filename=\"x.dump\"\r\n\r\n" +
        archive + "\r\n--B--\r\n";
    const File f(body);
    const auto range = miroir::dump::multipart_file(f.path(), "B");
    EXPECT_EQ(body.substr(range.begin, range.size()), archive);
    EXPECT_TRUE(miroir::dump::looks_like_archive(f.path(), range));
    EXPECT_FALSE(miroir::dump::looks_like_archive(f.path(), f.all()));
    EXPECT_NO_THROW(miroir::dump::read_manifest(f.path(), range));
    const File broken("--B\r\nContent-Disposition: form-data\r\n\r\nno end");
    EXPECT_THROW(miroir::dump::multipart_file(broken.path(), "B"), Error);
}

}  // namespace
