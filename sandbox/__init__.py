"""Local fakes of Kie.ai, T-Bank, Telegram and S3 that speak the providers' wire protocols (development only)."""
