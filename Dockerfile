# Clutch Luigi: the app server (`npm start`) and, with another command, a worker
# (`node dist/cli/bin.js worker`) or the release-step migration (`… migrate`).
# Multi-stage: the build stage has the dev dependencies (TypeScript); the image has none.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` compiles, and the sources are not here yet.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY app.yml ./
COPY workflows ./workflows
# The image's own user, never root; the data folder is only for the embedded database,
# which a deployment with DATABASE_URL does not use.
RUN mkdir -p /app/.clutch-luigi && chown node:node /app/.clutch-luigi
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/server/start.js"]
