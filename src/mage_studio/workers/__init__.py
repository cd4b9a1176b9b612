"""In-process render workers that `mage-studio serve` starts beside the API."""
