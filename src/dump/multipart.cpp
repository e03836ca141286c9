// Where the dump is in an upload kept on disk: the whole file, or the file part of a
// multipart/form-data body, found by scanning for the boundary a block at a time.
#include <algorithm>
#include <cctype>
#include <fcntl.h>
#include <functional>
#include <unistd.h>
#include <vector>

#include <miroir/dump/archive.hpp>

namespace miroir::dump {

namespace {

constexpr std::size_t kBlock = 1 << 20;
constexpr std::size_t kMaxPartHeader = 16 << 10;
constexpr const char* kInvalid = "miroir_invalid_dump";

class File {
  public:
    explicit File(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
        if (fd_ < 0) throw std::runtime_error("cannot open " + path);
        size_ = static_cast<std::uint64_t>(::lseek(fd_, 0, SEEK_END));
    }
    ~File() { ::close(fd_); }
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    std::uint64_t size() const { return size_; }

    std::string read(std::uint64_t at, std::size_t n) const {
        std::string out(n, '\0');
        const auto got = ::pread(fd_, out.data(), n, static_cast<off_t>(at));
        out.resize(got < 0 ? 0 : static_cast<std::size_t>(got));
        return out;
    }

    // The offset of the first `needle` at or after `from`.
    std::optional<std::uint64_t> find(const std::string& needle, std::uint64_t from) const {
        const std::boyer_moore_horspool_searcher searcher(needle.begin(), needle.end());
        while (from < size_) {
            const auto block = read(from, kBlock + needle.size());
            const auto it = std::search(block.begin(), block.end(), searcher);
            if (it != block.end()) return from + static_cast<std::uint64_t>(it - block.begin());
            if (block.size() <= needle.size()) break;
            from += block.size() - needle.size() + 1;
        }
        return std::nullopt;
    }

  private:
    int fd_;
    std::uint64_t size_ = 0;
};

Error not_multipart(const std::string& why) {
    return Error(kInvalid, "The multipart body cannot be read: " + why + ".");
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

}  // namespace

std::optional<std::string> multipart_boundary(const std::string& content_type) {
    const auto type = lower(content_type);
    if (!type.starts_with("multipart/form-data")) return std::nullopt;
    const auto at = type.find("boundary=");
    if (at == std::string::npos) return std::string();
    auto boundary = content_type.substr(at + 9);
    boundary = boundary.substr(0, boundary.find(';'));
    if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"') {
        boundary = boundary.substr(1, boundary.size() - 2);
    }
    return boundary;
}

Range multipart_file(const std::string& path, const std::string& boundary) {
    if (boundary.empty() || boundary.size() > 200) throw not_multipart("no boundary");
    const File file(path);
    const std::string delimiter = "--" + boundary;
    auto at = file.find(delimiter, 0);
    if (!at) throw not_multipart("no part");
    std::optional<Range> first;
    for (;;) {
        // each part: the delimiter line, headers, an empty line, the content up to CRLF and
        // the next delimiter
        const auto line_end = *at + delimiter.size();
        const auto after = file.read(line_end, 2);
        if (after == "--") break;  // the closing delimiter
        const auto head = file.read(line_end, kMaxPartHeader);
        const auto blank = head.find("\r\n\r\n");
        if (blank == std::string::npos) throw not_multipart("a part without headers");
        const auto content = line_end + blank + 4;
        const auto next = file.find("\r\n" + delimiter, content);
        if (!next) throw not_multipart("a part without its closing boundary");
        const Range part{content, *next};
        const auto headers = lower(head.substr(0, blank));
        if (headers.find("filename=") != std::string::npos) return part;
        if (!first) first = part;
        at = *next + 2;
    }
    if (!first) throw not_multipart("no part");
    return *first;
}

bool looks_like_archive(const std::string& path, Range range) {
    const File file(path);
    const auto head = file.read(
        range.begin, static_cast<std::size_t>(std::min<std::uint64_t>(range.size(), 512)));
    if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x1f &&
        static_cast<unsigned char>(head[1]) == 0x8b) {
        return true;
    }
    return head.size() >= 262 && head.compare(257, 5, "ustar") == 0;
}

}  // namespace miroir::dump
