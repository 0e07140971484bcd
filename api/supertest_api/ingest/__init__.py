"""Where run pods send their live events and artifacts, authorised only by their own run's token."""
