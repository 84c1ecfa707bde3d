module github.com/streambus/streambus/packages/sdk-go

go 1.23
