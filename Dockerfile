FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY . .
ENV SPENDGUARD_HTTP_HOST=0.0.0.0
EXPOSE 8787
ENTRYPOINT ["node", "bin/spendguard.js"]
CMD ["start"]
