# vmreserve's image: built in release mode on the Swift image, run on a slim Debian with only
# libhiredis and curl (for the health check), as an unprivileged user.
FROM swift:6.1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libhiredis-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# the package manifest first, so that a change to the sources does not fetch the dependencies again
COPY Package.swift ./
RUN swift package resolve
COPY . .
RUN swift build -c release --product vmreserve --static-swift-stdlib && cp .build/release/vmreserve /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libhiredis0.14 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin vmreserve
COPY --from=build /usr/local/bin/vmreserve /usr/local/bin/vmreserve
USER vmreserve
ENV VMRESERVE_HOST=0.0.0.0 VMRESERVE_PORT=5000
EXPOSE 5000
# ready: Redis reachable and every script loaded
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD curl -fsS http://127.0.0.1:5000/readyz || exit 1
ENTRYPOINT ["vmreserve", "serve"]
