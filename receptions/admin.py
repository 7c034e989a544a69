"""Nothing is registered in the admin, as with cases: reception sheets hold citizens' names
and are imported and worked in the app, through services that check roles and audit."""
