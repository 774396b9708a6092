# The `metering` image: one executable for every role (metering stream | serve | migrate, chosen by the args the
# Helm chart passes). Build: docker build -t metering:dev .
#
# Choices (docs/operations.md, "Image"):
# - framework-dependent publish for linux-x64 on the ASP.NET runtime image (`metering serve` needs ASP.NET Core);
#   not self-contained/trimmed: trimming breaks reflection in Npgsql and Confluent.Kafka (and its warnings are build
#   errors here), and a self-contained copy of the runtime would be as large as the runtime image's layer while no
#   longer shared with other .NET images.
# - Ubuntu 24.04 chiseled runtime (distroless: no shell, no package manager). .NET 10 ships no Debian images.
# - librdkafka: Confluent.Kafka's librdkafka.redist ships runtimes/linux-x64/native/{librdkafka,centos8-librdkafka,
#   alpine-librdkafka}.so. The default build needs libsasl2.so.3, which neither Debian nor Ubuntu has, so the client
#   falls back to centos8-librdkafka.so, which links only glibc (OpenSSL, zlib, zstd and SASL PLAIN/SCRAM built in).
#   Nothing to install; SASL GSSAPI (Kerberos) is not available with it.
# - No PostgreSQL client or server in the image: the engine speaks the protocol itself (Npgsql), and the chart always
#   sets METERING_PG, so the embedded-PostgreSQL default is never used in a container.

ARG DOTNET_VERSION=10.0
ARG RID=linux-x64

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION}-noble AS build
ARG RID
WORKDIR /src
# Restore first, from the project files only, so source edits reuse the cached package layer.
COPY Directory.Build.props Directory.Packages.props .editorconfig ./
COPY Metering.Aggregates/Metering.Aggregates.csproj Metering.Aggregates/
COPY Metering.Rating/Metering.Rating.csproj Metering.Rating/
COPY Metering.Ledger/Metering.Ledger.csproj Metering.Ledger/
COPY Metering.Ingest/Metering.Ingest.csproj Metering.Ingest/
COPY Metering.Analytics/Metering.Analytics.csproj Metering.Analytics/
COPY Metering.Redis/Metering.Redis.csproj Metering.Redis/
COPY Metering.Web/Metering.Web.csproj Metering.Web/
COPY Metering.DevKit/Metering.DevKit.csproj Metering.DevKit/
COPY Metering.Cli/Metering.Cli.csproj Metering.Cli/
RUN dotnet restore Metering.Cli/Metering.Cli.csproj -r ${RID}
COPY Metering.Aggregates/ Metering.Aggregates/
COPY Metering.Rating/ Metering.Rating/
COPY Metering.Ledger/ Metering.Ledger/
COPY Metering.Ingest/ Metering.Ingest/
COPY Metering.Analytics/ Metering.Analytics/
COPY Metering.Redis/ Metering.Redis/
COPY Metering.Web/ Metering.Web/
COPY Metering.DevKit/ Metering.DevKit/
COPY Metering.Cli/ Metering.Cli/
COPY examples/ examples/
RUN dotnet publish Metering.Cli/Metering.Cli.csproj -c Release -r ${RID} --self-contained false --no-restore -o /out \
 # The example price books must never price production usage: price books come from the chart's ConfigMap.
 && rm -rf /out/examples \
 && test -f /out/runtimes/${RID}/native/centos8-librdkafka.so

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}-noble-chiseled AS runtime
WORKDIR /app
COPY --from=build /out/ /app/
# A numeric non-root user, so Kubernetes' runAsNonRoot can verify it (the chart runs as 10001 too).
USER 10001:10001
# The root filesystem is read-only in the chart: anything that wants a home or temp files gets the /tmp emptyDir.
ENV HOME=/tmp \
    TMPDIR=/tmp \
    DOTNET_NOLOGO=1
# 8080: metering serve (--port); 9464: metering stream --metrics-listen (the chart's stream.metrics.port).
EXPOSE 8080 9464
ENTRYPOINT ["/app/metering"]
CMD ["--help"]
