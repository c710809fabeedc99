# syntax=docker/dockerfile:1
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# `prepare` compiles TypeScript during npm ci; dev dependencies (the compiler among them) are
# dropped afterwards, so only production ones reach the image.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev && rm -f dist/.tsbuildinfo

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
RUN mkdir -p /var/lib/pullthrough && chown node:node /var/lib/pullthrough
USER node
VOLUME /var/lib/pullthrough
EXPOSE 5000
# Follows PULLTHROUGH_LISTEN's port when it is set (host:port, [v6]:port or :port).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD ["node", "-e", "const port = (process.env.PULLTHROUGH_LISTEN || ':5000').split(':').pop(); fetch(`http://127.0.0.1:${port}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve", "--storage", "/var/lib/pullthrough"]
