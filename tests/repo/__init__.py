"""What the repository promises besides the code: quality scale, coverage, release, CI."""
