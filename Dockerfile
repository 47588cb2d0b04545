# MemoryService container: build with the SDK, run on the ASP.NET runtime as a non-root user.
# The image has no PostgreSQL of its own: set ConnectionStrings__Memory (docker-compose.yml does).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files only, so code changes reuse the cached restore layer.
COPY Directory.Build.props ./
COPY src/MemoryService/MemoryService.csproj src/MemoryService/
RUN dotnet restore src/MemoryService/MemoryService.csproj
COPY src/MemoryService/ src/MemoryService/
RUN dotnet publish src/MemoryService/MemoryService.csproj -c Release -o /app --no-restore /p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./
COPY NOTICE ./
ENV ASPNETCORE_URLS=http://+:8080 \
    Embeddings__Provider=local \
    Logging__Format=json \
    DOTNET_NOLOGO=1
# The base image's unprivileged "app" user.
USER $APP_UID
EXPOSE 8080
# No curl in the runtime image: bash's /dev/tcp is enough for one GET.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health/ready HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["dotnet", "MemoryService.dll"]
