module miroir/tests/sdk/go

go 1.22

require github.com/meilisearch/meilisearch-go v0.37.0

require (
	github.com/andybalholm/brotli v1.1.1 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
)
