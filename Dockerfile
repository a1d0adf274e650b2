FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# Not `npm ci`: the lockfile holds only the chdb and go-mokapi platform packages of the machine
# that wrote it, and `npm ci` rejects a lockfile missing the others. `npm install` keeps the locked
# versions and fetches the platform package this image needs (as .ci/run does).
RUN npm install --omit=dev --no-audit --no-fund
COPY . .
ENV SPENDGUARD_HTTP_HOST=0.0.0.0
EXPOSE 8787
ENTRYPOINT ["node", "bin/spendguard.js"]
CMD ["start"]
