# Miroir image: built on Debian 12 with the same packages as scripts/bootstrap, run on
# debian:12-slim with only the runtime libraries.
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config ca-certificates \
      libboost1.81-dev libboost-url1.81-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev \
      prometheus-cpp-dev libssl-dev libxxhash-dev libhiredis-dev libsqlite3-dev libsimdjson-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release -DMIROIR_BUILD_TESTS=OFF -DMIROIR_BUILD_BENCHMARKS=OFF \
      -DMIROIR_WARNINGS_AS_ERRORS=OFF \
    && cmake --build --preset release --target miroir \
    && strip build/release/src/miroir

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libboost-system1.81.0 libboost-url1.81.0 libyaml-cpp0.7 libspdlog1.10 libfmt9 \
      libprometheus-cpp-core1.0 libssl3 libhiredis0.14 libsqlite3-0 libsimdjson14 libxxhash0 \
      ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/miroir --create-home miroir
COPY --from=build /src/build/release/src/miroir /usr/local/bin/miroir
COPY miroir.yaml /etc/miroir/miroir.yaml
USER miroir
WORKDIR /var/lib/miroir
ENV MIROIR_CONFIG=/etc/miroir/miroir.yaml
EXPOSE 7700 9090
HEALTHCHECK CMD curl -fsS http://127.0.0.1:7700/health || exit 1
ENTRYPOINT ["miroir"]
CMD ["serve"]
