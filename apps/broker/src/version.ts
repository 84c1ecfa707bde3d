/** The broker's version; a test keeps it equal to package.json's. */
export const BROKER_VERSION = '0.1.0';
