# Builds vmreserve in release mode and runs it on a slim Debian with libhiredis.
FROM swift:6.1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libhiredis-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN swift build -c release --product vmreserve --static-swift-stdlib && cp .build/release/vmreserve /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libhiredis0.14 curl ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/vmreserve /usr/local/bin/vmreserve
USER nobody
EXPOSE 5000
ENTRYPOINT ["vmreserve", "serve"]
