Feature: exoform's mail flow objects, checked on exoform plan --json

  Scenario: the outbound connector requires TLS to the gateway
    Given I have outbound_connector defined
    Then it must contain TlsSettings
    And its value must be EncryptionOnly

  Scenario: mail flow rules enforce (never left in Audit mode)
    Given I have transport_rule defined
    Then it must contain Mode
    And its value must be Enforce

  Scenario: every connector is managed by exoform's marker
    Given I have resource that supports Comment defined
    Then it must contain Comment
    And its value must match the "\[exoform:" regex
